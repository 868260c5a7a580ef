"""The action server, answering only the Rasa server: ``python -m rasa_addons.action_server``.

rasa_sdk 3.6's own server listens on every interface and runs any action for whoever posts
a tracker to ``/webhook``: a forged tracker bypassed the message guard, the rate limit and
the dialogue (unlimited guessing of a request's e-mail, reading another sender's draft).
This one serves the same actions (``actions/``) with three differences:

- it listens on ``ACTION_SERVER_HOST`` (``127.0.0.1`` by default; ``0.0.0.0`` inside a
  container network);
- ``/webhook`` and ``/actions`` require the shared secret ``ACTION_SERVER_TOKEN``, which the
  Rasa server sends as ``Authorization: Bearer …`` (``endpoints.yml``); anything else gets a
  401. ``/health`` stays open. Without a token it refuses to start;
- an unexpected error answers a bare 500: rasa_sdk's handler echoes the whole request,
  that is the tracker with the citizen's messages.

``/metrics`` (metrics.action_server) answers loopback clients, or others with METRICS_TOKEN.
"""

from __future__ import annotations

import argparse
import logging
import secrets

import settings
from metrics import action_server as action_metrics
from metrics import logs

logger = logging.getLogger(__name__)
OPEN_PATHS = ("/health", "/metrics")  # /metrics checks its own access (metrics.access)


def create_app(token: str, actions_package: str = "actions"):
    from rasa_sdk.endpoint import create_app as create_sdk_app
    from sanic import response

    app = create_sdk_app(actions_package, cors_origins=None)
    expected = f"Bearer {token}".encode()

    @app.on_request
    async def require_token(request):
        if request.path in OPEN_PATHS:
            return None
        sent = request.headers.get("authorization", "").encode()
        if not secrets.compare_digest(sent, expected):
            return response.json(
                {"error": "unauthorized", "message": "Jeton du serveur d'actions manquant ou invalide."}, status=401
            )
        return None

    action_metrics.install(app, action_metrics.registered_actions(actions_package))

    @app.exception(Exception)
    async def no_echo(request, exception):
        logger.error("action server error on %s: %s", request.path, type(exception).__name__, exc_info=exception)
        return response.json({"error": "internal_error"}, status=500)

    return app


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    logs.configure()
    token = settings.action_server_token()
    if not token:
        logger.error(
            "ACTION_SERVER_TOKEN is not set: the action server only answers a Rasa server that sends it "
            "(`make run` creates one in var/action-server-token)."
        )
        return 2
    logging.getLogger("sanic.access").setLevel(logging.WARNING)
    app = create_app(token)
    host = settings.action_server_host()
    logger.info("action server on http://%s:%s", host, args.port)
    app.run(host, args.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
