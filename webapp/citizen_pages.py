"""Citizens' pages: the page hosting the chat widget, the widget's files, and the printable
letter of a stored request (reachable only with its secret key)."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlparse

from flask import Blueprint, abort, current_app, make_response, render_template, request, send_from_directory

import settings
from gdpr.letters import compose_letter
from gdpr.requests import StorageUnavailable

blueprint = Blueprint("citizen", __name__)
WIDGET_DIR = Path(__file__).resolve().parent.parent / "widget" / "src"
VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
TITLE = "Mes données de santé"


def _origins(url: str) -> str:
    """CSP sources for the Rasa server: its HTTP origin and the matching WebSocket one."""
    parsed = urlparse(url)
    ws = "wss" if parsed.scheme == "https" else "ws"
    return f"{parsed.scheme}://{parsed.netloc} {ws}://{parsed.netloc}"


@blueprint.get("/")
def home():
    rasa_url = settings.rasa_public_url()
    response = make_response(
        render_template(
            "index.html",
            title=TITLE,
            rasa_url=rasa_url,
            web_url=settings.public_web_url(),
            retention_days=settings.conversation_retention_days(),
        )
    )
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; connect-src 'self' {_origins(rasa_url)}; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    )
    return response


@blueprint.get("/widget/<path:filename>")
def widget_asset(filename: str):
    if filename == "socket.io.min.js":
        return send_from_directory(VENDOR_DIR, filename, max_age=3600)
    return send_from_directory(WIDGET_DIR, filename, max_age=300)


@blueprint.get("/favicon.ico")
def favicon():
    # Browsers ask for it on their own (a JSON answer, a page without <link rel="icon">).
    return send_from_directory(VENDOR_DIR / "dsfr" / "favicon", "favicon.ico", max_age=86400)


@blueprint.get("/sante")
def health():
    return {"status": "ok"}


@blueprint.get("/lettre/<reference>")
def letter(reference: str):
    key = request.args.get("cle", "")
    try:
        stored = current_app.config["REPOSITORY"].find_by_reference(reference) if len(reference) <= 20 else None
    except StorageUnavailable:
        abort(503)
    # Same answer for an unknown reference and a wrong key: nothing leaks.
    if stored is None or not secrets.compare_digest(stored.letter_key.encode(), key.encode()):
        abort(404)
    response = make_response(render_template("letter.html", letter=compose_letter(stored), letter_request=stored))
    response.headers["Cache-Control"] = "no-store"
    return response
