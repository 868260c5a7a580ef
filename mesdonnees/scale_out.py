"""Lock store and event broker chosen by the environment (one endpoints.yml for all setups).

- Lock store: Rasa's RedisLockStore when REDIS_URL is set (several Rasa servers then
  serialise each conversation's messages), else the in-memory lock store (one server).
- Event broker: Rasa's RabbitMQ (pika) broker when RABBITMQ_URL is set, else none.
"""
from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Optional
from urllib.parse import unquote, urlparse

from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)


def redis_lock_store(url: str, key_prefix: Optional[str] = None) -> RedisLockStore:
    parsed = urlparse(url)
    return RedisLockStore(
        host=parsed.hostname or "localhost",
        port=parsed.port or 6379,
        db=int((parsed.path or "/0").lstrip("/") or 0),
        password=unquote(parsed.password) if parsed.password else None,
        use_ssl=parsed.scheme == "rediss",
        key_prefix=key_prefix,
    )


class EnvironmentLockStore:
    """`lock_store: type: mesdonnees.scale_out.EnvironmentLockStore` in endpoints.yml."""

    def __new__(cls, endpoint_config: Optional[EndpointConfig] = None, **_: Any) -> LockStore:  # type: ignore[misc]
        url = os.environ.get("REDIS_URL")
        if url:
            logger.info("lock store: Redis")
            return redis_lock_store(url, os.environ.get("REDIS_LOCK_PREFIX") or None)
        return InMemoryLockStore()


class EnvironmentEventBroker(EventBroker):
    """`event_broker: type: mesdonnees.scale_out.EnvironmentEventBroker` in endpoints.yml."""

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: Optional[asyncio.AbstractEventLoop] = None
    ) -> Optional[EventBroker]:
        url = os.environ.get("RABBITMQ_URL")
        if not url:
            return None
        from rasa.core.brokers.pika import PikaEventBroker

        parsed = urlparse(url)
        config = EndpointConfig(
            url=parsed.hostname,
            type="pika",
            username=unquote(parsed.username or "guest"),
            password=unquote(parsed.password or "guest"),
            port=parsed.port or 5672,
            queues=[os.environ.get("RABBITMQ_QUEUE", "mes_donnees_events")],
        )
        logger.info("event broker: RabbitMQ")
        return await PikaEventBroker.from_endpoint_config(config, event_loop)
