"""Configuration from the environment, with safe defaults for the embedded setup.

Every variable is documented in the README's configuration table.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent

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


def fact_review_age_days() -> int:
    """A fact verified longer ago than this is listed in the console's « Faits à revoir »."""
    return int(os.environ.get("FACT_REVIEW_AGE_DAYS", "182"))


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


def draft_retention_days() -> int:
    """Abandoned request drafts older than this are deleted by `make purge`."""
    return int(os.environ.get("DRAFT_RETENTION_DAYS", "7"))


def redis_url() -> str | None:
    """Redis for the shared lock store and rate limit (several Rasa servers); none by default."""
    return os.environ.get("REDIS_URL") or None


def redis_lock_prefix() -> str | None:
    return os.environ.get("REDIS_LOCK_PREFIX") or None


def rabbitmq_url() -> str | None:
    """RabbitMQ event broker (masked events are published); none by default."""
    return os.environ.get("RABBITMQ_URL") or None


def rabbitmq_queue() -> str:
    return os.environ.get("RABBITMQ_QUEUE", "mes_donnees_events")


def max_message_chars(default: int = 1000) -> int:
    """Longest citizen message read, checked before any processing."""
    return int(os.environ.get("MAX_MESSAGE_CHARS", default))


def rate_limit_per_minute() -> int:
    """Messages per minute and per client on the public channels."""
    return int(os.environ.get("RATE_LIMIT_PER_MINUTE", "30"))


def rasa_speedups_enabled() -> bool:
    """RASA_SPEEDUPS=0 turns off the performance fixes applied to Rasa (rasa_addons.speedups)."""
    return os.environ.get("RASA_SPEEDUPS", "1").strip().lower() not in ("0", "false", "no", "off")


def session_max_messages() -> int:
    """A Rasa session ends after this many citizen messages, between two turns (rasa_addons.session_window); 0: never."""
    return max(0, int(os.environ.get("SESSION_MAX_MESSAGES", "40")))


def rest_channel_token() -> str:
    """When set, the REST channel (any `sender`) answers only callers sending this bearer token."""
    return os.environ.get("REST_CHANNEL_TOKEN", "")


def socket_session_key() -> str:
    """Key that turns a widget's session secret into its conversation id (same on every Rasa
    server); RASA_API_TOKEN when unset, a per-process key when neither is set."""
    return os.environ.get("SOCKET_SESSION_KEY") or os.environ.get("RASA_API_TOKEN", "")


def rasa_api_token() -> str:
    """Token of Rasa's HTTP API, read from the environment (never on the command line)."""
    return os.environ.get("RASA_API_TOKEN", "")


def action_timeout_seconds() -> int:
    """Beyond this, the action server is considered unavailable for this message."""
    return int(os.environ.get("ACTION_TIMEOUT_SECONDS", "15"))


def cors_origins() -> list[str]:
    """Sites allowed to call the Rasa server's channels (space or comma separated)."""
    raw = os.environ.get("CORS_ORIGINS", "http://localhost:8080")
    return [origin for origin in raw.replace(",", " ").split() if origin]


def model_cache_dir() -> Path:
    """Where trained models are kept, keyed by the fingerprint of what they were trained on."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mes-donnees-de-sante" / "models"
    return Path(os.environ.get("MODEL_CACHE_DIR", default))


def model_releases_dir() -> Path:
    """The model release registry (releases.json) and the released models (training.releases)."""
    return Path(os.environ.get("MODEL_RELEASES_DIR", PROJECT_ROOT / "models" / "releases"))


def model_promotion_margins() -> tuple[float, float]:
    """`make promote` refuses a candidate whose fact accuracy drops, or whose confidently-wrong rate
    rises, by more than these (fractions of the messages) on any evaluation set."""
    return (
        float(os.environ.get("MODEL_PROMOTION_MARGIN_ACCURACY", "0.01")),
        float(os.environ.get("MODEL_PROMOTION_MARGIN_WRONG", "0.005")),
    )


def operator_password() -> str | None:
    """`make operator`: the new password, when not typed at the prompt (scripts, containers)."""
    return os.environ.get("OPERATOR_PASSWORD") or None


# --- E-mail (issue #17) ----------------------------------------------------------------
def smtp_url() -> str:
    """Outgoing mail server: `smtp://host:port` (plain, for the loopback sink),
    `smtp+starttls://user:password@host:587` or `smtps://user:password@host:465`. The default
    is the local sink that `make run` starts (mail.sink), which stores messages under MAIL_DIR."""
    return os.environ.get("SMTP_URL", "smtp://127.0.0.1:8025")


def mail_dir() -> Path:
    """Where the local SMTP sink stores every message it receives (a Maildir)."""
    return Path(os.environ.get("MAIL_DIR", VAR_DIR / "mail"))


def mail_from() -> str:
    """Sender of the e-mails sent to citizens."""
    return os.environ.get("MAIL_FROM", "Mes données de santé <ne-pas-repondre@mes-donnees-sante.localhost>")


def mail_reply_to() -> str:
    """Where a citizen's reply goes: the data-protection team's mailbox."""
    return os.environ.get("MAIL_REPLY_TO", "protection-donnees@mes-donnees-sante.localhost")


def email_code_key() -> str:
    """Key of the hashes of e-mail verification codes (shared by every action server). When
    unset, a random key is created once in var/email-code-key (owner-only)."""
    return os.environ.get("EMAIL_CODE_KEY", "")


def deadline_starts_on() -> str:
    """When the controller is deemed to have received a request, so the one-month deadline starts:
    `transmission` (default: the day the team records « Transmise au responsable ») or
    `verification` (the team running this service acts for the controller: the day the citizen
    proved the e-mail address and the request was recorded)."""
    value = os.environ.get("DEADLINE_STARTS_ON", "transmission").strip().lower()
    return value if value in ("transmission", "verification") else "transmission"


# --- Observability (issue #22) --------------------------------------------------------
def metrics_token() -> str:
    """Bearer token a non-loopback client (Prometheus in docker/) sends to read /metrics; empty
    (the default): /metrics answers loopback clients only."""
    return os.environ.get("METRICS_TOKEN", "")


def log_format() -> str:
    """`text` (default, one readable line per record) or `json` (one JSON object per line)."""
    value = os.environ.get("LOG_FORMAT", "text").strip().lower()
    return value if value in ("text", "json") else "text"


def contact_answer_days() -> int:
    """« Écrire à l'équipe »: the answer time announced to citizens, in working days."""
    return int(os.environ.get("CONTACT_ANSWER_DAYS", "5"))


# --- Console single sign-on (issue #22) -------------------------------------------------
def oidc_issuer() -> str:
    """OpenID Connect provider of the console's single sign-on, exactly as its ID tokens name it
    (ProConnect: `https://PROCONNECT_DOMAIN/api/v2`); its discovery document is read from
    `<issuer>/.well-known/openid-configuration`. Empty (the default): passwords only."""
    return os.environ.get("OIDC_ISSUER", "").strip()


def oidc_client_id() -> str:
    return os.environ.get("OIDC_CLIENT_ID", "").strip()


def oidc_client_secret() -> str:
    return os.environ.get("OIDC_CLIENT_SECRET", "")


def oidc_scopes() -> str:
    """Scopes asked at login: `openid` and `email` are needed to find the operator's account."""
    return " ".join(os.environ.get("OIDC_SCOPES", "openid email").split())


def oidc_label() -> str:
    """The login page's single sign-on button."""
    return os.environ.get("OIDC_LABEL", "").strip() or "Se connecter avec ProConnect"


def oidc_pkce() -> bool:
    """PKCE (S256) in the authorization code flow; OIDC_PKCE=0 for a provider that refuses the
    `code_challenge` parameter (state and nonce still bind the login to the browser)."""
    return os.environ.get("OIDC_PKCE", "1").strip().lower() not in ("0", "false", "no", "off")
