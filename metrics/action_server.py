"""The action server's metrics and its `/metrics` route (on its own port, 5055).

Each `/webhook` call is timed by action name (only names the server registered; anything else
is `other`), its error answers counted, and its log records carry the conversation (hashed)
and the Rasa message id. Database errors: `mds_storage_unavailable_total` (metrics/__init__).
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from typing import Any, Dict, Iterable, Optional

from prometheus_client import Counter, Histogram

from metrics import logs

ACTION_SECONDS = Histogram(
    "mds_action_seconds",
    "Time to run a custom action, by action",
    ["action"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0),
)
ACTION_ERRORS = Counter("mds_action_errors_total", "Action calls answered with an error status, by action", ["action"])


def _action_call(request: Any) -> Dict[str, Any]:
    try:
        if request.headers.get("Content-Encoding") == "deflate":
            body = json.loads(zlib.decompress(request.body))
        else:
            body = request.json
    except Exception:  # noqa: BLE001 - rasa_sdk's handler answers the malformed request
        return {}
    return body if isinstance(body, dict) else {}


def _message_id(call: Dict[str, Any]) -> Optional[str]:
    """The id of the citizen's latest message in the tracker Rasa sent."""
    events = (call.get("tracker") or {}).get("events") or []
    for event in reversed(events):
        if isinstance(event, dict) and event.get("event") == "user":
            value = event.get("message_id")
            return value if isinstance(value, str) else None
    return None


def install(app: Any, action_names: Iterable[str]) -> None:
    """Time each action call and serve `GET /metrics` (loopback, or METRICS_TOKEN). Register it
    after the token check: a refused call is neither timed nor bound to a conversation."""
    from sanic import response

    import settings
    from metrics import access

    known = frozenset(action_names)

    @app.on_request
    async def start_action_call(request):
        if request.path != "/webhook" or request.method != "POST":
            return None
        call = _action_call(request)
        name = call.get("next_action")
        request.ctx.mds_action = name if name in known else "other"
        sender = call.get("sender_id")
        request.ctx.mds_log_context = logs.bind(sender if isinstance(sender, str) else None, _message_id(call))
        request.ctx.mds_started = time.perf_counter()
        return None

    @app.on_response
    async def end_action_call(request, reply):
        started = getattr(request.ctx, "mds_started", None)
        if started is None:
            return None
        ACTION_SECONDS.labels(request.ctx.mds_action).observe(time.perf_counter() - started)
        if reply is not None and reply.status >= 400:
            ACTION_ERRORS.labels(request.ctx.mds_action).inc()
        logs.unbind(request.ctx.mds_log_context)
        return None

    async def serve_metrics(request):
        if not access.allowed(request.ip, request.headers.get("authorization"), settings.metrics_token()):
            return response.text(access.REFUSED_MESSAGE, status=access.REFUSED_STATUS)
        return response.raw(access.exposition(), content_type=access.CONTENT_TYPE)

    app.add_route(serve_metrics, "/metrics", methods=["GET"], name="mds_metrics")


def registered_actions(actions_package: str) -> list:
    """Names of the actions the package defines (the label values of `action`)."""
    from rasa_sdk.executor import ActionExecutor

    registry_logger = logging.getLogger("rasa_sdk.executor")  # it logs each action once already
    previous, registry_logger.disabled = registry_logger.disabled, True
    try:
        executor = ActionExecutor()
        executor.register_package(actions_package)
    finally:
        registry_logger.disabled = previous
    return sorted(executor.actions)
