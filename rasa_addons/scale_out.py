"""Lock store and event broker chosen by the environment (one endpoints.yml for all setups).

- Lock store: `RedisTicketLockStore` when REDIS_URL is set (several Rasa servers then
  serialise each conversation's messages), else Rasa's in-memory lock store (one server).
- Event broker: Rasa's RabbitMQ (pika) broker when RABBITMQ_URL is set, else none.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, AsyncContextManager, Optional, Text
from urllib.parse import unquote, urlparse

from rasa.core.brokers.broker import EventBroker
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

import settings
from metrics import rasa_server as rasa_metrics

logger = logging.getLogger(__name__)

# How often a message waiting for its conversation's lock looks again (Rasa's default: 1 s,
# which adds up to a second to every message that arrives while another is processed).
LOCK_POLL_SECONDS = 0.05

# Issue a ticket in one step: the next number and its place in the queue, so that no other
# server can see a later ticket without the earlier one.
_ISSUE_TICKET = """
local number = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], ARGV[1], number)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return number
"""


def redis_client(url: Text) -> Any:
    """A Redis client for REDIS_URL (redis://, rediss://) that gives up quickly when Redis
    does not answer."""
    import redis

    return redis.StrictRedis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


class RedisTicketLockStore(LockStore):
    """Rasa's ticket lock (one message of a conversation at a time, in arrival order), kept
    in Redis with atomic operations only, so that several Rasa servers can share it.

    Rasa 3.6's `RedisLockStore` reads a conversation's whole lock, changes it and writes it
    back. Two servers doing so at once overwrite each other: a ticket is lost or comes back
    after it was served, and the messages behind it wait forever (our two-server test hung
    on a burst of simultaneous messages). Here each conversation has a counter (`INCR` gives
    ticket numbers) and a sorted set of its pending tickets scored by expiry time; issuing,
    serving and expiring a ticket are each one Redis command or script. An empty sorted set
    disappears by itself, so there is nothing to delete that another server could still need.
    """

    def __init__(self, client: Any, key_prefix: Optional[Text] = None) -> None:
        self.red = client
        self.key_prefix = settings.redis_key_prefix(key_prefix, "ticket-lock")
        self._issue = client.register_script(_ISSUE_TICKET)
        super().__init__()

    @classmethod
    def from_url(cls, url: Text, key_prefix: Optional[Text] = None) -> "RedisTicketLockStore":
        return cls(redis_client(url), key_prefix)

    def _keys(self, conversation_id: Text) -> tuple:
        base = self.key_prefix + conversation_id
        return base + ":tickets", base + ":last-issued"

    def lock(  # type: ignore[override]
        self,
        conversation_id: Text,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = LOCK_POLL_SECONDS,
    ) -> AsyncContextManager[TicketLock]:
        return super().lock(conversation_id, lock_lifetime, wait_time_in_seconds)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        tickets, last_issued = self._keys(conversation_id)
        try:
            # Both keys outlive the last ticket, so numbers never restart under a live ticket.
            return int(
                self._issue(
                    keys=[tickets, last_issued], args=[time.time() + lock_lifetime, int(lock_lifetime * 2000) + 1000]
                )
            )
        except Exception as error:
            raise LockError(f"Error while issuing a ticket: {error}") from error

    async def _acquire_lock(self, conversation_id: Text, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        # Rasa keeps waiting after the message's own ticket expired, for as long as other
        # messages keep the lock busy. Here a message waits at most its ticket's lifetime
        # (TICKET_LOCK_LIFETIME, 60 s), then fails with LockError, which the channels turn
        # into a "please try again" reply.
        with rasa_metrics.LOCK_WAIT_SECONDS.time():
            while True:
                lock = self.get_lock(conversation_id)
                if lock is None or all(t.number != ticket for t in lock.tickets):
                    raise LockError(f"Ticket {ticket} expired before its turn came")
                if not lock.is_locked(ticket):
                    return lock
                await asyncio.sleep(wait_time_in_seconds)

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        tickets, _ = self._keys(conversation_id)
        pipe = self.red.pipeline()
        pipe.zremrangebyscore(tickets, "-inf", time.time())
        pipe.zrange(tickets, 0, -1, withscores=True)
        _, entries = pipe.execute()
        if not entries:
            return None
        ordered = sorted((int(number), expires) for number, expires in entries)
        return TicketLock(conversation_id, deque(Ticket(number, expires) for number, expires in ordered))

    def update_lock(self, conversation_id: Text) -> None:
        self.red.zremrangebyscore(self._keys(conversation_id)[0], "-inf", time.time())

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self.red.zrem(self._keys(conversation_id)[0], ticket_number)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        # Rasa deletes the lock when it looks unused; between its look and its delete another
        # server may issue a ticket, which the delete would throw away. Serving the ticket is
        # enough: the sorted set vanishes with its last ticket.
        self.finish_serving(conversation_id, ticket_number)

    def save_lock(self, lock: TicketLock) -> None:
        tickets, _ = self._keys(lock.conversation_id)
        pipe = self.red.pipeline()
        pipe.delete(tickets)
        if lock.tickets:
            pipe.zadd(tickets, {str(t.number): t.expires for t in lock.tickets})
            pipe.expireat(tickets, int(max(t.expires for t in lock.tickets)) + 1)
        pipe.execute()

    def delete_lock(self, conversation_id: Text) -> None:
        self._log_deletion(conversation_id, bool(self.red.delete(*self._keys(conversation_id))))


class TimedInMemoryLockStore(InMemoryLockStore):
    """Rasa's in-memory lock store (one server), with its wait counted (metrics/)."""

    async def _acquire_lock(self, conversation_id: Text, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        with rasa_metrics.LOCK_WAIT_SECONDS.time():
            return await super()._acquire_lock(conversation_id, ticket, wait_time_in_seconds)


class EnvironmentLockStore:
    """`lock_store: type: rasa_addons.scale_out.EnvironmentLockStore` in endpoints.yml."""

    def __new__(cls, endpoint_config: Optional[EndpointConfig] = None, **_: Any) -> LockStore:  # type: ignore[misc]
        url = settings.redis_url()
        if url:
            logger.info("lock store: Redis")
            return RedisTicketLockStore.from_url(url, settings.redis_lock_prefix())
        return TimedInMemoryLockStore()


class EnvironmentEventBroker(EventBroker):
    """`event_broker: type: rasa_addons.scale_out.EnvironmentEventBroker` in endpoints.yml."""

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: Optional[asyncio.AbstractEventLoop] = None
    ) -> Optional[EventBroker]:
        url = settings.rabbitmq_url()
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
            queues=[settings.rabbitmq_queue()],
        )
        logger.info("event broker: RabbitMQ")
        return await PikaEventBroker.from_endpoint_config(config, event_loop)
