"""The console's parent blueprint (/console): every page but the login one needs an operator,
every POST carries the session's CSRF token, nothing is cached. Each feature is a blueprint
of its own, registered here: adding a console page is one module plus its template."""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, g, redirect, request, session, url_for

from console import dashboard, facts_review, login, requests_queue, transcripts

console = Blueprint("console", __name__, url_prefix="/console")
PUBLIC_ENDPOINTS = frozenset({"console.login.login"})
for feature in (
    login.blueprint,
    requests_queue.blueprint,
    transcripts.blueprint,
    dashboard.blueprint,
    facts_review.blueprint,
):
    console.register_blueprint(feature)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@console.before_request
def require_operator():
    """Login guard for the whole console (blueprint level: a new page cannot forget it)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not session.get("operator"):
        return redirect(url_for("console.login.login", suivant=request.path))
    g.operator = session["operator"]
    return None


@console.before_request
def check_csrf():
    if request.method == "POST":
        sent = request.form.get("csrf", "")
        if not session.get("csrf") or not secrets.compare_digest(sent.encode(), session["csrf"].encode()):
            abort(400, "Jeton CSRF manquant ou invalide : rechargez la page.")


@console.after_request
def never_cached(response):
    """Console pages and exports show personal data: no browser or proxy may keep them."""
    response.headers["Cache-Control"] = "no-store"
    return response


@console.app_context_processor
def inject_csrf():
    return {"csrf_token": csrf_token}
