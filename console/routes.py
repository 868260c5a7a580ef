"""The console's parent blueprint (/console): every page but the login one needs an operator,
every POST carries the session's CSRF token, nothing is cached. Each feature is a blueprint
of its own, registered here: adding a console page is one module plus its template."""

from __future__ import annotations

import secrets
import time

from flask import Blueprint, abort, current_app, g, redirect, request, session, url_for

from console import dashboard, dev_mail, facts_review, login, requests_queue, team_messages, transcripts
from console.accounts import session_version

console = Blueprint("console", __name__, url_prefix="/console")
PUBLIC_ENDPOINTS = frozenset({"console.login.login"})
for feature in (
    login.blueprint,
    requests_queue.blueprint,
    team_messages.blueprint,
    transcripts.blueprint,
    dashboard.blueprint,
    facts_review.blueprint,
    dev_mail.blueprint,
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
    if not session.get("operator") or not _session_still_valid():
        session.clear()
        return redirect(url_for("console.login.login", suivant=request.path))
    g.operator = session["operator"]
    return None


def _session_still_valid() -> bool:
    """Revocable sessions: the account still exists, has not logged out or changed its password
    since (session version), and the login is less than PERMANENT_SESSION_LIFETIME old, however
    often the cookie was used."""
    since = session.get("since")
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    if not isinstance(since, (int, float)) or time.time() - since > lifetime:
        return False
    current = session_version(current_app.config["REPOSITORY"], session["operator"])
    return current is not None and current == session.get("version")


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
