"""The web app (port 8080): citizens' printable letters; the widget and console build on it."""
from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlparse

from flask import Flask, abort, render_template, request, send_from_directory

from mesdonnees import settings
from mesdonnees.letters import compose_letter
from mesdonnees.requests_repository import RequestRepository, StorageUnavailable

MAX_REQUEST_BYTES = 64 * 1024
WIDGET_DIR = Path(__file__).resolve().parent.parent / "widget" / "src"
VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
TITLE = "Mes données de santé"


def _origins(url: str) -> str:
    """CSP sources for the Rasa server: its HTTP origin and the matching WebSocket one."""
    parsed = urlparse(url)
    ws = "wss" if parsed.scheme == "https" else "ws"
    return f"{parsed.scheme}://{parsed.netloc} {ws}://{parsed.netloc}"


def _secret_key() -> str:
    """CONSOLE_SECRET_KEY, or a random key kept under var/ for the embedded setup."""
    key = settings.console_secret_key()
    if key:
        return key
    path = settings.VAR_DIR / "console-secret-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def create_app(database_url: str | None = None, tracker_store_url: str | None = None) -> Flask:
    from datetime import timedelta

    from webapp.console import console

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    if settings.trusted_proxy_count():  # behind nginx: the operator's address, for login throttling
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_count(), x_proto=0, x_host=0)
    repository = RequestRepository(database_url or settings.database_url())
    app.config.update(
        REPOSITORY=repository,
        TRACKER_STORE_URL=tracker_store_url or settings.tracker_store_url(),
        SECRET_KEY=_secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.public_web_url().startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
    )
    app.jinja_env.globals["site_name"] = TITLE
    app.jinja_env.filters["dict_without"] = lambda d, key: {k: v for k, v in d.items() if k != key}
    app.register_blueprint(console)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        ))
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    @app.get("/")
    def home():
        rasa_url = settings.rasa_public_url()
        response = app.make_response(render_template(
            "index.html", title=TITLE, rasa_url=rasa_url, web_url=settings.public_web_url(),
            retention_days=settings.conversation_retention_days(),
        ))
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; connect-src 'self' {_origins(rasa_url)}; img-src 'self' data:; "
            "style-src 'self'; script-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'self'"
        )
        return response

    @app.get("/widget/<path:filename>")
    def widget_asset(filename: str):
        if filename == "socket.io.min.js":
            return send_from_directory(VENDOR_DIR, filename, max_age=3600)
        return send_from_directory(WIDGET_DIR, filename, max_age=300)

    @app.get("/sante")
    def health():
        return {"status": "ok"}

    @app.get("/lettre/<reference>")
    def letter(reference: str):
        key = request.args.get("cle", "")
        try:
            stored = repository.find_by_reference(reference) if len(reference) <= 20 else None
        except StorageUnavailable:
            abort(503)
        # Same answer for an unknown reference and a wrong key: nothing leaks.
        if stored is None or not secrets.compare_digest(stored.letter_key.encode(), key.encode()):
            abort(404)
        response = app.make_response(render_template("letter.html", letter=compose_letter(stored), letter_request=stored))
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(404)
    def not_found(_error):
        return render_template("error.html", title="Page introuvable",
                               message="Cette page n'existe pas, ou le lien est incomplet."), 404

    @app.errorhandler(400)
    def bad_request(error):
        return render_template("error.html", title="Requête refusée",
                               message=getattr(error, "description", "") or "Requête invalide."), 400

    @app.errorhandler(503)
    def unavailable(_error):
        return render_template("error.html", title="Service indisponible",
                               message="Le service est momentanément indisponible. Réessayez dans quelques minutes."), 503

    return app
