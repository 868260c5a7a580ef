"""Login and logout, with a throttle on failed attempts and a cap on concurrent password checks;
single sign-on (OpenID Connect) beside the passwords when it is configured (console.oidc)."""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
import uuid
from collections import deque
from typing import Deque, Dict, List, Optional, Tuple

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

import settings
from console import oidc
from console.accounts import authenticate, end_sessions, session_version

logger = logging.getLogger(__name__)
blueprint = Blueprint("login", __name__)
blueprint.register_blueprint(oidc.blueprint)  # /connexion/sso…: endpoints console.login.sso.*
LOGIN_WINDOW_SECONDS = 300
LOGIN_FREE_ATTEMPTS = 3  # per address and account
ADDRESS_FREE_ATTEMPTS = 10  # per address, whatever the account: random user names are slowed too
MAX_CONCURRENT_CHECKS = 2  # each check costs an argon2 hash (64 MiB, tens of ms): citizens' pages share the server
CHECK_WAIT_SECONDS = 1.0


class LoginThrottle:
    """Failed attempts per (address, account) and per address: past the free attempts, each wait
    doubles (up to 5 min). An attempt is counted before its password is checked, under a lock, so
    parallel attempts cannot slip past the count; a success takes its own count back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: Dict[str, Deque[float]] = {}
        self.checks = threading.BoundedSemaphore(MAX_CONCURRENT_CHECKS)

    @staticmethod
    def _keys(address: str, username: str) -> List[Tuple[str, int]]:
        return [(f"{address}|{username}", LOGIN_FREE_ATTEMPTS), (f"{address}|*", ADDRESS_FREE_ATTEMPTS)]

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            attempts = self._failures[key]
            while attempts and attempts[0] < now - LOGIN_WINDOW_SECONDS:
                attempts.popleft()
            if not attempts:
                del self._failures[key]

    def _wait(self, key: str, free: int, now: float) -> int:
        attempts = self._failures.get(key) or deque()
        extra = len(attempts) - free
        if extra < 0:
            return 0
        return max(0, math.ceil(attempts[-1] + min(2**extra, 300) - now))

    def reserve(self, address: str, username: str) -> int:
        """Seconds to wait before another attempt; 0 means go, and the attempt is counted."""
        with self._lock:
            now = time.monotonic()
            self._prune(now)
            wait = max(self._wait(key, free, now) for key, free in self._keys(address, username))
            if wait:
                return wait
            for key, _ in self._keys(address, username):
                self._failures.setdefault(key, deque()).append(now)
            return 0

    def succeeded(self, address: str, username: str) -> None:
        with self._lock:
            account, per_address = self._keys(address, username)
            self._failures.pop(account[0], None)
            attempts = self._failures.get(per_address[0])
            if attempts:
                attempts.pop()

    def tracked_keys(self) -> int:
        with self._lock:
            return len(self._failures)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()


# Same rule as LoginThrottle, on sorted sets of attempt times in Redis, checked and counted in one
# script: several web app processes or servers share the counts (issue #23.6).
_RESERVE = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local extra = redis.call('ZCARD', key) - tonumber(ARGV[2 + i])
  if extra >= 0 then
    local last = tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])
    wait = math.max(wait, math.ceil(last + math.min(2 ^ extra, 300) - now))
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[5])
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
end
return 0
"""


class RedisLoginThrottle(LoginThrottle):
    """LoginThrottle shared through Redis (REDIS_URL): attempts counted by any process count for
    all. Addresses and account names are kept as hashes only. If Redis does not answer, this
    process's own throttle takes over (logins stay limited, per process)."""

    def __init__(self, client, key_prefix: Optional[str] = None) -> None:
        super().__init__()
        self.red = client
        self.key_prefix = settings.redis_key_prefix(key_prefix, "login")
        self._reserve = client.register_script(_RESERVE)

    def _redis_keys(self, address: str, username: str) -> List[str]:
        return [
            self.key_prefix + hashlib.sha256(f"mes-donnees-de-sante:login:{key}".encode()).hexdigest()[:32]
            for key, _ in self._keys(address, username)
        ]

    def reserve(self, address: str, username: str) -> int:
        now = time.time()
        try:
            return int(
                self._reserve(
                    keys=self._redis_keys(address, username),
                    args=[
                        now,
                        LOGIN_WINDOW_SECONDS,
                        LOGIN_FREE_ATTEMPTS,
                        ADDRESS_FREE_ATTEMPTS,
                        f"{now}:{uuid.uuid4().hex}",
                    ],
                )
            )
        except Exception as error:  # redis.RedisError and socket errors
            logger.warning("login throttle: Redis unavailable (%s), counting in this process", type(error).__name__)
            return super().reserve(address, username)

    def succeeded(self, address: str, username: str) -> None:
        account, per_address = self._redis_keys(address, username)
        try:
            pipeline = self.red.pipeline()
            pipeline.delete(account)
            pipeline.zpopmax(per_address)
            pipeline.execute()
        except Exception as error:  # noqa: BLE001
            logger.warning("login throttle: Redis unavailable (%s)", type(error).__name__)
        super().succeeded(address, username)


def throttle() -> LoginThrottle:
    """The app's throttle, created on first use (one per app: tests get a fresh one); shared
    through Redis when REDIS_URL is set."""
    if "login_throttle" not in current_app.extensions:
        url = settings.redis_url()
        if url:
            import redis

            client = redis.StrictRedis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
            created: LoginThrottle = RedisLoginThrottle(client, settings.redis_lock_prefix())
        else:
            created = LoginThrottle()
        current_app.extensions.setdefault("login_throttle", created)
    return current_app.extensions["login_throttle"]


def safe_return_path(target: str) -> Optional[str]:
    """Where to go after login: a console path only, never another site nor a header break."""
    if not target.startswith("/console/") or len(target) > 500:
        return None
    if "//" in target or "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    return target


def login_page(
    error: Optional[str] = None, notice: Optional[str] = None, sso_error: Optional[str] = None, status: int = 200
):
    """The login page: the password form, and the single sign-on button when it is configured."""
    return render_template(
        "console/login.html",
        error=error,
        notice=notice,
        sso_error=sso_error,
        sso_label=settings.oidc_label() if oidc.configured() else None,
        next_path=safe_return_path(request.args.get("suivant", "")),
    ), status


@blueprint.route("/connexion", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        username = request.form.get("identifiant", "").strip().lower()[:100]
        address = request.remote_addr or "?"
        wait = throttle().reserve(address, username)
        if wait:
            return login_page(error=f"Trop de tentatives : réessayez dans {wait} secondes.", status=429)
        if not throttle().checks.acquire(timeout=CHECK_WAIT_SECONDS):
            error = "Le service de connexion est très sollicité : réessayez dans quelques secondes."
            return login_page(error=error, status=429)
        try:
            valid = authenticate(current_app.config["REPOSITORY"], username, request.form.get("mot_de_passe", ""))
        finally:
            throttle().checks.release()
        if valid:
            throttle().succeeded(address, username)
            session.clear()
            session["operator"] = username
            session["version"] = session_version(current_app.config["REPOSITORY"], username)
            session["since"] = time.time()
            session.permanent = True
            return redirect(safe_return_path(request.args.get("suivant", "")) or url_for("console.home"))
        return login_page(error="Identifiant ou mot de passe incorrect.", status=401)
    return login_page()


@blueprint.post("/deconnexion")
def logout():
    """Ends every session of the account: a copied cookie stops working too. A session opened by
    single sign-on then goes through the provider's logout, when it has one."""
    id_token = session.get("sso_id_token")
    if session.get("operator"):
        end_sessions(current_app.config["REPOSITORY"], session["operator"])
    session.clear()
    return oidc.logout_redirect(id_token) or redirect(url_for("console.login.login"))
