"""Prometheus metrics and structured logs of every long-running process (issue #22).

- `metrics.access`: who may read `/metrics` (loopback clients, or `METRICS_TOKEN`) and the
  Prometheus text itself;
- `metrics.rasa_server`, `metrics.action_server`, `metrics.webapp`: each process's metrics and
  the hooks that count them;
- `metrics.logs`: the one logging setup every launcher calls (`LOG_FORMAT=text|json`), with
  the masking filter and the hashed conversation id.

A label never holds a personal datum: its values come from fixed sets (channel, form name,
action name, fallback reason, endpoint name, status), anything else is counted as `other`.
"""

from __future__ import annotations

from prometheus_client import Counter, disable_created_metrics

disable_created_metrics()  # no `*_created` series: Prometheus does not need them

# Counted where the error is raised (gdpr.requests.StorageUnavailable), in whichever process.
STORAGE_UNAVAILABLE = Counter(
    "mds_storage_unavailable_total", "Application database errors (StorageUnavailable) met by this process"
)
