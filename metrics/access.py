"""Who may read `/metrics` (SPEC §3.4), and the Prometheus text served there.

A client on the loopback (the TCP peer, never X-Forwarded-For) reads the metrics without a
token; any other needs `Authorization: Bearer <METRICS_TOKEN>`; with no METRICS_TOKEN set,
loopback clients only. Behind nginx the peer is nginx: docker/ hides /metrics from the
public side and Prometheus scrapes each container directly, with the token.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Optional

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

# The classic text format, which every Prometheus 2.x and 3.x reads (the metric names are plain).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
REFUSED_STATUS = 403
REFUSED_MESSAGE = (
    "Accès aux métriques refusé : hors de la machine du serveur, envoyez l'en-tête "
    "« Authorization: Bearer <METRICS_TOKEN> »."
)


def is_loopback(peer: Optional[str]) -> bool:
    """127.0.0.0/8, ::1 and ::ffff:127.x; anything unparsable is not."""
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def allowed(peer: Optional[str], authorization: Optional[str], token: Optional[str]) -> bool:
    """May this client read the metrics? `peer` is the connection's own address."""
    if is_loopback(peer):
        return True
    if not token:
        return False
    return hmac.compare_digest((authorization or "").encode("utf-8"), f"Bearer {token}".encode("utf-8"))


def exposition(*extra: CollectorRegistry) -> bytes:
    """The process's metrics (default registry) followed by those of `extra` registries."""
    return b"".join(generate_latest(registry) for registry in (REGISTRY, *extra))
