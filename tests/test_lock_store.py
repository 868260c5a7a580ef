"""The Redis lock store that several Rasa servers share (local Redis, as in production)."""

from __future__ import annotations

import asyncio
import random
import threading
import time

import pytest
import redis

from devtools.databases import REDIS_URL
from rasa_addons.scale_out import RedisTicketLockStore


@pytest.fixture
def prefix(redis_prefix):
    return redis_prefix


def server(prefix):
    """One Rasa server's view of the lock store: its own client and connection."""
    return RedisTicketLockStore.from_url(REDIS_URL, prefix)


def test_two_servers_serve_a_burst_on_one_conversation_one_message_at_a_time(prefix):
    """Rasa 3.6's RedisLockStore fails this: its read-modify-write loses or revives tickets
    and the messages behind them wait forever."""
    conversation, per_server = "burst", 15
    inside, most_inside, served, errors = [0], [0], [], []
    guard = threading.Lock()

    async def message(store, name):
        async with store.lock(conversation, wait_time_in_seconds=0.002):
            with guard:
                inside[0] += 1
                most_inside[0] = max(most_inside[0], inside[0])
            time.sleep(random.uniform(0, 0.002))  # blocks this server, lets the other run
            await asyncio.sleep(random.uniform(0, 0.003))
            with guard:
                inside[0] -= 1
                served.append(name)

    def run_server(index):
        store = server(prefix)

        async def burst():
            await asyncio.wait_for(
                asyncio.gather(*(message(store, f"{index}-{i}") for i in range(per_server))), timeout=60
            )

        try:
            asyncio.run(burst())
        except Exception as error:  # reported below, with the other server's outcome
            errors.append(repr(error))

    threads = [threading.Thread(target=run_server, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert most_inside[0] == 1
    assert sorted(served) == sorted(f"{s}-{i}" for s in range(2) for i in range(per_server))
    tickets_key, _ = server(prefix)._keys(conversation)
    assert redis.StrictRedis.from_url(REDIS_URL).exists(tickets_key) == 0  # nothing left behind


def test_messages_are_served_in_the_order_they_arrived(prefix):
    first, second = server(prefix), server(prefix)
    order = []

    async def message(store, name, delay):
        await asyncio.sleep(delay)
        async with store.lock("ordered"):
            await asyncio.sleep(0.02)
            order.append(name)

    async def arrivals():
        await asyncio.gather(*(message([first, second][i % 2], i, i * 0.005) for i in range(6)))

    asyncio.run(arrivals())
    assert order == list(range(6))


def test_a_ticket_left_by_a_crashed_server_blocks_only_until_it_expires(prefix):
    crashed, alive = server(prefix), server(prefix)
    crashed.issue_ticket("orphaned", lock_lifetime=0.5)  # took the lock, never released it

    async def next_message():
        started = time.monotonic()
        async with alive.lock("orphaned"):
            return time.monotonic() - started

    waited = asyncio.run(next_message())
    assert 0.3 < waited < 5


def test_a_message_waits_no_longer_than_its_own_ticket_lives(prefix):
    from rasa.core.lock_store import LockError

    stuck, alive = server(prefix), server(prefix)
    stuck.issue_ticket("stuck", lock_lifetime=30)  # a message processed for far too long

    async def next_message():
        async with alive.lock("stuck", lock_lifetime=0.5):
            pass

    started = time.monotonic()
    with pytest.raises(LockError):
        asyncio.run(asyncio.wait_for(next_message(), timeout=10))
    assert time.monotonic() - started < 5
    tickets_key, _ = alive._keys("stuck")
    assert redis.StrictRedis.from_url(REDIS_URL).zcard(tickets_key) == 1  # only the stuck one is left


def test_a_redis_outage_is_a_lock_error_not_a_hang():
    from rasa.core.lock_store import LockError

    unreachable = RedisTicketLockStore.from_url("redis://127.0.0.1:1/0")

    async def message():
        async with unreachable.lock("any"):
            pass

    with pytest.raises(LockError):
        asyncio.run(asyncio.wait_for(message(), timeout=20))


def test_the_counter_expires_once_no_ticket_can_be_live(prefix):
    store = server(prefix)
    store.issue_ticket("idle", lock_lifetime=60)
    tickets_key, counter_key = store._keys("idle")
    client = redis.StrictRedis.from_url(REDIS_URL)
    assert 60 < client.ttl(tickets_key) <= 121 and 60 < client.ttl(counter_key) <= 121
