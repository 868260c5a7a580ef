"""Login and logout, with a per-app throttle on failed attempts."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Deque, Dict, Optional

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from console.accounts import authenticate

blueprint = Blueprint("login", __name__)
LOGIN_WINDOW_SECONDS = 300
LOGIN_FREE_ATTEMPTS = 3


class LoginThrottle:
    """Failed attempts per (address, username): after three, each wait doubles (up to 5 min)."""

    def __init__(self) -> None:
        self._failures: Dict[str, Deque[float]] = defaultdict(deque)

    def delay(self, key: str) -> int:
        """Seconds to wait before another attempt."""
        now = time.monotonic()
        attempts = self._failures[key]
        while attempts and attempts[0] < now - LOGIN_WINDOW_SECONDS:
            attempts.popleft()
        extra = len(attempts) - LOGIN_FREE_ATTEMPTS
        if extra < 0:
            return 0
        wait = min(2**extra, 300)
        return max(0, int(attempts[-1] + wait - now))

    def failed(self, key: str) -> None:
        self._failures[key].append(time.monotonic())

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

    def clear(self) -> None:
        self._failures.clear()


def throttle() -> LoginThrottle:
    return current_app.extensions.setdefault("login_throttle", LoginThrottle())


def safe_return_path(target: str) -> Optional[str]:
    """Where to go after login: a console path only, never another site nor a header break."""
    if not target.startswith("/console/") or len(target) > 500:
        return None
    if "//" in target or "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    return target


@blueprint.route("/connexion", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        username = request.form.get("identifiant", "").strip().lower()[:100]
        key = f"{request.remote_addr}|{username}"
        wait = throttle().delay(key)
        if wait:
            error = f"Trop de tentatives : réessayez dans {wait} secondes."
            return render_template("console/login.html", error=error), 429
        if authenticate(current_app.config["REPOSITORY"], username, request.form.get("mot_de_passe", "")):
            throttle().succeeded(key)
            session.clear()
            session["operator"] = username
            session.permanent = True
            return redirect(
                safe_return_path(request.args.get("suivant", "")) or url_for("console.requests.requests_queue")
            )
        throttle().failed(key)
        error = "Identifiant ou mot de passe incorrect."
        return render_template("console/login.html", error=error), 401
    return render_template("console/login.html", error=error)


@blueprint.post("/deconnexion")
def logout():
    session.clear()
    return redirect(url_for("console.login.login"))
