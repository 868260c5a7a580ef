"""The Rasa server's metrics and its `/metrics` route (on the server's own port, 5005).

Where each is counted:
- messages received, handling latency, refusals by the message guard, rate-limited requests:
  in the guarded channels (rasa_addons.channels), per channel (`rest`, `socketio`);
- fallbacks by reason, « Vouliez-vous dire… ? » offers, forms started / completed / abandoned:
  from the events the tracker store saves (rasa_addons.tracker_store), once per event, whatever
  the channel. A reply's `custom.fallback` gives the reason, `custom.candidates` a
  disambiguation. A form starts with an `active_loop` event naming it; it is completed when the
  form itself ends the loop (its last slot filled), abandoned when another action ends it
  (« annuler », the circuit breaker, another form taking over);
- the wait for a conversation's lock (several messages of one conversation at once):
  rasa_addons.scale_out, both lock stores.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import time
from typing import Any, Iterable, Iterator, Optional, Sequence

from prometheus_client import Counter, Histogram

from metrics import logs

logger = logging.getLogger(__name__)

CHANNELS = ("rest", "socketio")
FALLBACK_REASONS = ("out_of_scope", "low_confidence", "none_of_these", "not_understood", "ambiguous", "circuit_breaker")
GUARD_REASONS = ("not_text", "empty_message", "message_too_long")
_FORM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}_form$")

MESSAGES = Counter("mds_messages_received_total", "Citizen messages received, by channel", ["channel"])
MESSAGE_SECONDS = Histogram(
    "mds_message_handling_seconds",
    "Time to handle a citizen message (lock, understanding, actions), by channel",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0),
)
REJECTED = Counter(
    "mds_messages_rejected_total", "Messages answered by the guard without the NLU, by reason", ["channel", "reason"]
)
RATE_LIMITED = Counter("mds_rate_limited_total", "Messages refused by the rate limit, by channel", ["channel"])
FALLBACKS = Counter("mds_fallbacks_total", "Replies without a fact (custom.fallback), by reason", ["reason"])
DISAMBIGUATIONS = Counter("mds_disambiguations_offered_total", "« Vouliez-vous dire… ? » offers (custom.candidates)")
FORMS_STARTED = Counter("mds_forms_started_total", "Forms started, by form", ["form"])
FORMS_COMPLETED = Counter("mds_forms_completed_total", "Forms completed (every slot filled), by form", ["form"])
FORMS_ABANDONED = Counter("mds_forms_abandoned_total", "Forms left before their end, by form", ["form"])
LOCK_WAIT_SECONDS = Histogram(
    "mds_conversation_lock_wait_seconds",
    "Wait for the conversation's lock before a message is handled",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0),
)

for _channel in CHANNELS:
    MESSAGES.labels(_channel)
    RATE_LIMITED.labels(_channel)
    MESSAGE_SECONDS.labels(_channel)


def channel_label(name: Any) -> str:
    return name if name in CHANNELS else "other"


def fallback_label(reason: Any) -> str:
    return reason if reason in FALLBACK_REASONS else "other"


def form_label(name: Any, known: Optional[Iterable[str]] = None) -> str:
    if not isinstance(name, str):
        return "other"
    if known:
        return name if name in known else "other"
    return name if _FORM_NAME.match(name) else "other"


@contextlib.contextmanager
def handling(channel: str, sender_id: str, message_id: str) -> Iterator[None]:
    """Around the processing of one message: counts it, times it, and gives its log records
    the conversation (hashed) and the message id."""
    label = channel_label(channel)
    MESSAGES.labels(label).inc()
    started = time.perf_counter()
    with logs.context(sender_id, message_id):
        try:
            yield
        finally:
            MESSAGE_SECONDS.labels(label).observe(time.perf_counter() - started)


def received(channel: str) -> None:
    """A message that will not reach `handling` (rate-limited, refused by the guard)."""
    MESSAGES.labels(channel_label(channel)).inc()


def rate_limited(channel: str) -> None:
    received(channel)
    RATE_LIMITED.labels(channel_label(channel)).inc()


def rejected(channel: str, reason: Any) -> None:
    received(channel)
    REJECTED.labels(channel_label(channel), reason if reason in GUARD_REASONS else "other").inc()


def observe_saved_events(tracker: Any, new_events: Sequence[Any], domain: Any = None) -> None:
    """Count what the events a tracker store just saved say (never fails the save)."""
    try:
        _observe(tracker, new_events, getattr(domain, "form_names", None))
    except Exception:  # noqa: BLE001 - a metric must never cost a citizen's message
        logger.debug("metrics: events not counted", exc_info=True)


def _observe(tracker: Any, new_events: Sequence[Any], form_names: Optional[Iterable[str]]) -> None:
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, Restarted, SessionStarted

    if not new_events:
        return
    known = set(form_names or ())
    active: Optional[str] = None
    for event in itertools.islice(tracker.events, 0, max(0, len(tracker.events) - len(new_events))):
        if isinstance(event, ActiveLoop):
            active = event.name
        elif isinstance(event, (SessionStarted, Restarted)):
            active = None
    last_action: Optional[str] = None
    for event in new_events:
        if isinstance(event, ActionExecuted):
            last_action = event.action_name
        elif isinstance(event, (SessionStarted, Restarted)):
            active = None
        elif isinstance(event, ActiveLoop):
            if event.name and event.name != active:
                if active:
                    FORMS_ABANDONED.labels(form_label(active, known)).inc()
                FORMS_STARTED.labels(form_label(event.name, known)).inc()
            elif not event.name and active:
                ended = FORMS_COMPLETED if last_action == active else FORMS_ABANDONED
                ended.labels(form_label(active, known)).inc()
            active = event.name
        elif isinstance(event, BotUttered):
            custom = (event.data or {}).get("custom")
            if isinstance(custom, dict):
                if isinstance(custom.get("fallback"), str):
                    FALLBACKS.labels(fallback_label(custom["fallback"])).inc()
                if custom.get("candidates"):
                    DISAMBIGUATIONS.inc()


def add_route(app: Any) -> None:
    """`GET /metrics` on the Rasa server's Sanic app (loopback, or METRICS_TOKEN)."""
    from sanic import response

    import settings
    from metrics import access

    async def serve_metrics(request: Any) -> Any:
        if not access.allowed(request.ip, request.headers.get("authorization"), settings.metrics_token()):
            return response.text(access.REFUSED_MESSAGE, status=access.REFUSED_STATUS)
        return response.raw(access.exposition(), content_type=access.CONTENT_TYPE)

    app.add_route(serve_metrics, "/metrics", methods=["GET"], name="mds_metrics")
