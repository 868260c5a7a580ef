"""The console's parent blueprint (/console): every page but the login one needs an operator
whose role allows it (console.permissions), every POST carries the session's CSRF token, nothing
is cached. Each feature is a blueprint of its own, registered here: adding a console page is one
module plus its template, and one line in the permission table."""

from __future__ import annotations

import secrets
import time

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for

from console import (
    dashboard,
    dev_mail,
    facts_review,
    login,
    operators,
    permissions,
    requests_queue,
    team_messages,
    transcripts,
)
from console.accounts import session_state

console = Blueprint("console", __name__, url_prefix="/console")
PUBLIC_ENDPOINTS = permissions.PUBLIC_ENDPOINTS
for feature in (
    login.blueprint,
    requests_queue.blueprint,
    team_messages.blueprint,
    transcripts.blueprint,
    dashboard.blueprint,
    facts_review.blueprint,
    dev_mail.blueprint,
    operators.blueprint,
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
    state = _session_state() if session.get("operator") else None
    if state is None:
        session.clear()
        return redirect(url_for("console.login.login", suivant=request.path))
    g.operator, g.role = session["operator"], state[1]
    return None


@console.before_request
def require_role():
    """Role guard, right after the login guard: default deny (console.permissions)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not permissions.allowed(g.role, request.endpoint or "", request.method):
        return render_template("console/forbidden.html", role=g.role), 403
    return None


def _session_state():
    """Revocable sessions: the account still exists, has not logged out, changed its password or
    its role since (session version), and the login is less than PERMANENT_SESSION_LIFETIME old,
    however often the cookie was used. Returns the account's (session version, role), or None."""
    since = session.get("since")
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    if not isinstance(since, (int, float)) or time.time() - since > lifetime:
        return None
    state = session_state(current_app.config["REPOSITORY"], session["operator"])
    return state if state is not None and state[0] == session.get("version") else None


@console.before_request
def check_csrf():
    if request.method == "POST":
        sent = request.form.get("csrf", "")
        if not session.get("csrf") or not secrets.compare_digest(sent.encode(), session["csrf"].encode()):
            abort(400, "Jeton CSRF manquant ou invalide : rechargez la page.")


@console.get("/")
def home():
    """Each role's first page."""
    return redirect(url_for(permissions.HOME_ENDPOINTS.get(g.role, "console.dashboard.dashboard")))


@console.after_request
def never_cached(response):
    """Console pages and exports show personal data: no browser or proxy may keep them."""
    response.headers["Cache-Control"] = "no-store"
    return response


def can(endpoint: str, method: str = "GET") -> bool:
    """In templates: whether the operator's role opens this page (links it cannot follow are hidden)."""
    return permissions.allowed(getattr(g, "role", None) or "", endpoint, method)


@console.app_context_processor
def inject_csrf():
    return {"csrf_token": csrf_token, "can": can}
