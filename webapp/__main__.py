"""Serve the web app: python -m webapp [--port 8080]."""

import argparse

from metrics import logs

logs.configure()  # first: records of the imports below are formatted too (LOG_FORMAT)

from waitress import serve  # noqa: E402

from webapp import create_app  # noqa: E402

parser = argparse.ArgumentParser(description="Mes données de santé — web app")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8080)
args = parser.parse_args()
serve(create_app(), host=args.host, port=args.port, threads=8)
