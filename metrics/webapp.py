"""The web app's metrics and its `/metrics` route (port 8080).

Counted per request: latency by endpoint (Flask's endpoint name, never the URL, which can hold a
request reference or a conversation id) and failed console logins (wrong credentials: 401;
throttled: 429). Computed from the application database at each scrape (`DatabaseCollector`,
a few grouped counts): e-mails by outbox status, requests by status, open requests by days left
before their deadline and overdue ones.

The web app runs one process (waitress threads): the default registry is enough. Run under
several worker processes (gunicorn…), each would count its own requests: the counters would
then need prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, a directory shared
by the workers and emptied at start, and `MultiProcessCollector` in the /metrics view); the
database gauges need nothing, they are read at scrape time.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily

from metrics import logs

logger = logging.getLogger(__name__)

REQUEST_SECONDS = Histogram(
    "mds_web_request_seconds",
    "Time to answer a web app request (citizens' pages and console), by Flask endpoint",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
FAILED_LOGINS = Counter(
    "mds_console_failed_logins_total",
    "Failed console logins: invalid (credentials), throttled, sso (single sign-on refused)",
    ["reason"],
)
for _reason in ("invalid", "throttled", "sso"):
    FAILED_LOGINS.labels(_reason)

LOGIN_ENDPOINT = "console.login.login"
# Label values: English identifiers of the statuses the application stores in French.
OUTBOX_STATUSES = {"en attente": "queued", "envoyé": "sent", "refusé": "refused"}
REQUEST_STATUSES = {"reçue": "received", "en cours": "in_progress", "traitée": "done", "refusée": "refused"}
# gdpr.processing.deadline_badge's states, as the console colours them.
DEADLINE_BANDS = {
    "to_transmit": "to_transmit",
    "ok": "10_days_or_more",
    "soon": "under_10_days",
    "urgent": "under_5_days",
    "overdue": "overdue",
}


class DatabaseCollector:
    """Gauges read from the application database when Prometheus scrapes."""

    def __init__(self, repository: Any) -> None:
        self.repository = repository

    def describe(self) -> list:
        return []  # computed at scrape time only (no query when registered)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        import sqlalchemy as sa
        from sqlalchemy.exc import SQLAlchemyError

        from gdpr import deadlines
        from gdpr.processing import deadline_badge
        from gdpr.requests import CLOSED_STATUSES, StorageUnavailable
        from mail.outbox import counts
        from storage.schema import gdpr_requests

        up = GaugeMetricFamily("mds_app_database_up", "1 when the application database answered this scrape")
        try:
            engine = self.repository.engine  # brings the schema up to date once
            emails = counts(self.repository.url)
            with engine.connect() as connection:
                by_status = dict(
                    connection.execute(
                        sa.select(gdpr_requests.c.status, sa.func.count()).group_by(gdpr_requests.c.status)
                    ).all()
                )
                open_deadlines = connection.execute(
                    sa.select(gdpr_requests.c.deadline, sa.func.count())
                    .where(gdpr_requests.c.status.notin_(CLOSED_STATUSES))
                    .group_by(gdpr_requests.c.deadline)
                ).all()
        except (SQLAlchemyError, StorageUnavailable) as error:
            logger.warning("metrics: application database unavailable (%s)", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield _by_label(
            "mds_outbox_emails",
            "E-mails in the outbox, by status",
            "status",
            emails,
            OUTBOX_STATUSES.values(),
            OUTBOX_STATUSES,
        )
        yield _by_label(
            "mds_requests",
            "GDPR requests, by status",
            "status",
            by_status,
            REQUEST_STATUSES.values(),
            REQUEST_STATUSES,
        )
        today = deadlines.today()
        bands = dict.fromkeys(DEADLINE_BANDS.values(), 0)
        for deadline, number in open_deadlines:
            state = deadline_badge({"status": "", "deadline": deadline}, today)["state"]
            bands[DEADLINE_BANDS.get(state, "to_transmit")] += int(number)
        gauge = GaugeMetricFamily(
            "mds_open_requests_by_deadline", "Open requests by days left before the deadline", labels=["band"]
        )
        for band, number in bands.items():
            gauge.add_metric([band], number)
        yield gauge
        yield GaugeMetricFamily(
            "mds_open_requests_overdue", "Open requests past their deadline", value=bands["overdue"]
        )


def _by_label(name, documentation, label, found, every, names) -> GaugeMetricFamily:
    values = dict.fromkeys(every, 0)
    for raw, number in found.items():
        key = names.get(raw, "other")
        values[key] = values.get(key, 0) + int(number)
    gauge = GaugeMetricFamily(name, documentation, labels=[label])
    for value, number in values.items():
        gauge.add_metric([value], number)
    return gauge


def init_app(app: Any) -> None:
    """Time every request, count failed logins, give each request's log records an id (and the
    conversation, hashed, when the URL names one), and serve `GET /metrics`."""
    from flask import Response, g, request

    import settings
    from metrics import access

    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(app.config["REPOSITORY"]))

    @app.before_request
    def start_request():
        g.mds_started = time.perf_counter()
        sender = (request.view_args or {}).get("sender_id")
        g.mds_log_context = logs.bind(sender if isinstance(sender, str) else None, uuid.uuid4().hex[:16])

    @app.after_request
    def end_request(response):
        started = g.pop("mds_started", None)
        if started is not None:
            REQUEST_SECONDS.labels(request.endpoint or "unmatched").observe(time.perf_counter() - started)
        if request.endpoint == LOGIN_ENDPOINT and request.method == "POST":
            if response.status_code == 401:
                FAILED_LOGINS.labels("invalid").inc()
            elif response.status_code == 429:
                FAILED_LOGINS.labels("throttled").inc()
        return response

    @app.teardown_request
    def forget_request(_error=None):
        tokens = g.pop("mds_log_context", None)
        if tokens is not None:
            logs.unbind(tokens)

    def serve_metrics():
        # The connection's own peer: ProxyFix (TRUSTED_PROXY_COUNT) rewrites REMOTE_ADDR from
        # X-Forwarded-For, which a client writes itself.
        environ = request.environ
        peer = (environ.get("werkzeug.proxy_fix.orig") or {}).get("REMOTE_ADDR") or environ.get("REMOTE_ADDR")
        if not access.allowed(peer, request.headers.get("Authorization"), settings.metrics_token()):
            return Response(access.REFUSED_MESSAGE, status=access.REFUSED_STATUS, mimetype="text/plain")
        return Response(access.exposition(registry), content_type=access.CONTENT_TYPE)

    app.add_url_rule("/metrics", "metrics", serve_metrics, methods=["GET"])
