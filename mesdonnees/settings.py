"""Configuration from the environment, with safe defaults for the embedded setup.

Every variable is documented in the README's configuration table.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from mesdonnees.facts import PROJECT_ROOT

VAR_DIR = Path(os.environ.get("MDS_VAR_DIR", PROJECT_ROOT / "var"))


def _sqlite_url(name: str) -> str:
    return f"sqlite:///{VAR_DIR / name}"


def tracker_store_url() -> str:
    """Where Rasa keeps conversations (SQLite file by default)."""
    return os.environ.get("TRACKER_STORE_URL") or _sqlite_url("conversations.db")


def database_url() -> str:
    """The application database (requests, operators, review data)."""
    return os.environ.get("DATABASE_URL") or _sqlite_url("app.db")


def fact_confidence_threshold() -> float:
    """Below this ResponseSelector confidence no fact is given (docs/fallback-threshold.md)."""
    return float(os.environ.get("FACT_CONFIDENCE_THRESHOLD", "0.3"))


def public_web_url() -> str:
    """Public address of the web app (letters, widget), used in links sent to citizens."""
    return os.environ.get("PUBLIC_WEB_URL", "http://localhost:8080").rstrip("/")


def rasa_public_url() -> str:
    """Public address of the Rasa server, the only server the widget talks to."""
    return os.environ.get("RASA_PUBLIC_URL", "http://localhost:5005").rstrip("/")


def action_server_token() -> str:
    """Shared secret between the Rasa server and the action server (required by both)."""
    return os.environ.get("ACTION_SERVER_TOKEN", "")


def action_server_host() -> str:
    """Interface the action server listens on: the loopback unless a container network needs more."""
    return os.environ.get("ACTION_SERVER_HOST", "127.0.0.1")


def console_secret_key() -> str:
    """Signs the console's session cookies; set it in production (several web app instances)."""
    return os.environ.get("CONSOLE_SECRET_KEY", "")


def conversation_retention_days() -> int:
    return int(os.environ.get("CONVERSATION_RETENTION_DAYS", "90"))


def redis_key_prefix(prefix: str | None, kind: str) -> str:
    """Where one kind of Redis key lives: `PREFIX:kind:` (REDIS_LOCK_PREFIX, alphanumeric,
    lets several deployments share a Redis) or `kind:`."""
    if prefix and not prefix.isalnum():
        logging.getLogger(__name__).warning("REDIS_LOCK_PREFIX must be alphanumeric; using no prefix")
        prefix = None
    return f"{prefix}:{kind}:" if prefix else f"{kind}:"


def trusted_proxy_count() -> int:
    """How many reverse proxies in front of the servers append to X-Forwarded-For (nginx in
    docker/: 1). 0, the default, ignores the header: a client could write anything in it."""
    try:
        return max(0, int(os.environ.get("TRUSTED_PROXY_COUNT", "0")))
    except ValueError:
        return 0


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: int | None = None) -> str:
    """The citizen's address as the last trusted proxy saw it (as werkzeug's ProxyFix does):
    the n-th address from the right of X-Forwarded-For when n proxies are trusted, else the
    address of the connection itself."""
    trusted = trusted_proxy_count() if trusted_proxies is None else trusted_proxies
    if trusted and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if len(hops) >= trusted:
            return hops[-trusted]
    return peer or "unknown"


# Slots holding personal data: stored masked in conversation logs (SPEC §4).
PERSONAL_SLOTS = frozenset(
    {"first_name", "last_name", "email", "wrong_data", "correct_data", "objection_reason", "status_email"}
)
