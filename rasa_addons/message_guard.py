"""Checks applied to every citizen message before Rasa sees it (REST and socket.io).

Keeps the assistant answering whatever arrives: text is cleaned (invalid Unicode,
control characters), capped in length before any NLU runs, and payloads starting with
"/" are accepted only when they are ones the widget's buttons send; any other one is
read as plain text, so nobody can set slots or skip validation by typing an intent.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
import time
import unicodedata
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Deque, Dict, Optional, Tuple, Union

import settings
from gdpr.kinds import ALL_FIELDS, KINDS
from training.facts import default_catalogue

logger = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_CHARS = 1000
MAX_SENDER_CHARS = 128
_SENDER = re.compile(r"^[\w.:@-]{1,128}$")
_CORRECTABLE_FIELDS = ALL_FIELDS
_SIMPLE_PAYLOADS = {
    "/affirm",
    "/deny",
    "/cancel",
    "/retry_submit",
    "/resend_code",
    "/contact_team",
    "/greet",
    "/something_else",
} | {f"/{k.intent}" for k in KINDS.values()}


def max_message_chars() -> int:
    return settings.max_message_chars(DEFAULT_MAX_MESSAGE_CHARS)


def clean_message(text: str) -> str:
    """Valid UTF-8, NFC, no control characters (newlines become spaces), trimmed."""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates become "?"
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") else ch for ch in text)
    return " ".join(text.split())


def _allowed_feedback(text: str) -> bool:
    """/give_feedback{…} and /add_feedback_comment{…}, as the buttons under a fact answer send them."""
    from conversations.feedback import valid_entities

    intent, brace, body = text[1:].partition("{")
    try:
        values = json.loads(brace + body)
    except ValueError:
        return False
    return isinstance(values, dict) and valid_entities(intent, values)


def _allowed_payload(text: str) -> bool:
    if text in _SIMPLE_PAYLOADS:
        return True
    if text.startswith(("/give_feedback{", "/add_feedback_comment{")):
        return _allowed_feedback(text)
    for intent, entity, allowed in (
        ("ask_fact", "fact_id", None),
        ("correct_field", "request_field", _CORRECTABLE_FIELDS),
    ):
        prefix = f"/{intent}"
        if text.startswith(prefix + "{"):
            try:
                value = json.loads(text[len(prefix) :])
            except ValueError:
                return False
            if not isinstance(value, dict) or list(value) != [entity] or not isinstance(value[entity], str):
                return False
            valid = allowed if allowed is not None else default_catalogue().facts
            return value[entity] in valid
    return False


def neutralise_payload(text: str) -> str:
    """Keep button payloads the widget sends; read anything else starting with '/' as text."""
    if text.startswith("/") and not _allowed_payload(text):
        return text.lstrip("/").strip() or "?"
    return text


@dataclass(frozen=True)
class Verdict:
    """Either a text to process, or a reply to give without running the NLU."""

    text: Optional[str] = None
    reply: Optional[str] = None
    reason: Optional[str] = None


def check_text(raw: object) -> Verdict:
    if not isinstance(raw, str):
        return Verdict(reply="Je n'ai reçu aucun texte. Posez-moi votre question par écrit.", reason="not_text")
    text = clean_message(raw)
    if not text:
        return Verdict(
            reply="Votre message est vide. Posez-moi une question sur vos données de santé.", reason="empty_message"
        )
    limit = max_message_chars()
    if len(text) > limit:
        return Verdict(
            reply=(
                f"Votre message est trop long ({len(text)} caractères ; {limit} au maximum). "
                "Pouvez-vous le raccourcir en une question ?"
            ),
            reason="message_too_long",
        )
    return Verdict(text=neutralise_payload(text))


def valid_sender(sender: object) -> bool:
    return isinstance(sender, str) and bool(_SENDER.match(sender))


def rate_limit_client(address: str) -> str:
    """Who a rate limit counts: an IPv4 address, or an IPv6 client's /64 (one subscriber's
    network, inside which a client can take a new address for each message)."""
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


class RateLimiter:
    """Sliding-window limit of messages per client (in-process: one Rasa server)."""

    def __init__(self, per_minute: Optional[int] = None, window: float = 60.0):
        self.limit = per_minute if per_minute is not None else _rate_limit_from_environment()
        self.window = window
        self._hits: Dict[str, Deque[float]] = {}

    def allow(self, client: str, now: Optional[float] = None) -> Tuple[bool, int]:
        """(allowed, seconds to wait)."""
        if self.limit <= 0:
            return True, 0
        client = rate_limit_client(client)
        now = time.monotonic() if now is None else now
        hits = self._hits.setdefault(client, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False, max(1, int(hits[0] + self.window - now) + 1)
        hits.append(now)
        if len(self._hits) > 100_000:  # bound memory under address scanning
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
        return True, 0


def _rate_limit_from_environment() -> int:
    return settings.rate_limit_per_minute()


# One client's hits in the window, as a sorted set scored by time; counting and adding in one
# script, so that two servers cannot both let through the message that reaches the limit.
_SLIDING_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000))
return false
"""


class RedisRateLimiter:
    """The same sliding window, shared by every Rasa server through Redis (REDIS_URL).

    With one limiter per server, a client whose messages the load balancer spreads over
    two servers would get twice RATE_LIMIT_PER_MINUTE. Clients are keys derived from their
    address by a hash, kept one window long (Redis runs without persistence in docker/).
    If Redis does not answer, messages are let through: the limit is a guard, not a
    reason to stop answering.
    """

    def __init__(
        self, client: Any, per_minute: Optional[int] = None, window: float = 60.0, key_prefix: Optional[str] = None
    ) -> None:
        self.limit = per_minute if per_minute is not None else _rate_limit_from_environment()
        self.window = window
        self.red = client
        self.key_prefix = settings.redis_key_prefix(key_prefix, "rate-limit")
        self._hit = client.register_script(_SLIDING_WINDOW)

    def _key(self, client: str) -> str:
        return self.key_prefix + hashlib.sha256(f"mes-donnees-de-sante:{client}".encode()).hexdigest()[:32]

    def allow(self, client: str, now: Optional[float] = None) -> Tuple[bool, int]:
        """(allowed, seconds to wait)."""
        if self.limit <= 0:
            return True, 0
        now = time.time() if now is None else now
        client = rate_limit_client(client)
        try:
            oldest = self._hit(
                keys=[self._key(client)], args=[now, self.window, self.limit, f"{now}:{uuid.uuid4().hex}"]
            )
        except Exception as error:  # redis.RedisError and socket errors: fail open
            logger.warning("rate limit not checked, Redis unavailable: %s", type(error).__name__)
            return True, 0
        if oldest is None:
            return True, 0
        return False, max(1, int(float(oldest) + self.window - now) + 1)


def rate_limiter_from_environment() -> Union[RateLimiter, RedisRateLimiter]:
    """Shared by all Rasa servers when REDIS_URL is set, in-process otherwise."""
    url = settings.redis_url()
    if url:
        from rasa_addons.scale_out import redis_client

        return RedisRateLimiter(redis_client(url), key_prefix=settings.redis_lock_prefix())
    return RateLimiter()


RATE_LIMITED_MESSAGE = (
    "Vous envoyez beaucoup de messages en peu de temps. Patientez {seconds} secondes avant de réessayer."
)
UNAVAILABLE_MESSAGE = (
    "Je n'ai pas pu répondre à votre message : le service est momentanément indisponible. "
    "Réessayez dans quelques instants."
)
