"""The web app (port 8080): the citizens' pages (webapp.citizen_pages: the page hosting the widget,
the printable letters) and the operators' console (console/), with the headers every page gets."""

from __future__ import annotations

import secrets

from flask import Flask, render_template

import settings
from gdpr.requests import RequestRepository

MAX_REQUEST_BYTES = 64 * 1024


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

    from console.routes import console
    from metrics import webapp as web_metrics
    from webapp.citizen_pages import TITLE
    from webapp.citizen_pages import blueprint as citizen_pages

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
    app.register_blueprint(citizen_pages)
    app.register_blueprint(console)
    web_metrics.init_app(app)  # /metrics, request timing and log context (metrics/webapp.py)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            (
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
            ),
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    @app.errorhandler(404)
    def not_found(_error):
        return render_template(
            "error.html", title="Page introuvable", message="Cette page n'existe pas, ou le lien est incomplet."
        ), 404

    @app.errorhandler(400)
    def bad_request(error):
        return render_template(
            "error.html", title="Requête refusée", message=getattr(error, "description", "") or "Requête invalide."
        ), 400

    @app.errorhandler(503)
    def unavailable(_error):
        return render_template(
            "error.html",
            title="Service indisponible",
            message="Le service est momentanément indisponible. Réessayez dans quelques minutes.",
        ), 503

    return app
