"""Scale-out without Docker: two Rasa servers sharing PostgreSQL (tracker store and
application database) and Redis (lock store), one action server; then faults."""

from __future__ import annotations

import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
import requests
import sqlalchemy as sa

from devtools.databases import POSTGRES_ADMIN_URL, REDIS_URL, fresh_postgres_database
from devtools.mailbox import latest_code
from devtools.servers import ActionServer, RasaServer
from mail.sink import MaildirSink

pytestmark = pytest.mark.servers

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672"


def _delete_queue(queue):
    import asyncio

    import aio_pika

    async def delete():
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue)

    asyncio.run(delete())


def _published_events(queue, until_sender, timeout=30):
    """Messages the servers published to RabbitMQ, read until one of ``until_sender`` arrives."""
    import asyncio

    import aio_pika

    async def read():
        bodies, deadline = [], time.monotonic() + timeout
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, passive=True)
            while time.monotonic() < deadline:
                message = await declared.get(no_ack=True, fail=False)
                if message is None:
                    if any(until_sender in b for b in bodies):
                        break
                    await asyncio.sleep(0.2)
                    continue
                # JSON escapes accents: read it back so that « masquée » compares as typed
                bodies.append(json.dumps(json.loads(message.body), ensure_ascii=False))
        return bodies

    return asyncio.run(read())


class Cluster:
    def __init__(self, servers, action_server, tracker_url, app_url, workdir):
        self.servers, self.action_server, self.workdir = servers, action_server, workdir
        self.tracker_url, self.app_url = tracker_url, app_url

    def user_texts(self, sender):
        with sa.create_engine(self.tracker_url).connect() as connection:
            rows = (
                connection.execute(
                    sa.text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"),
                    {"s": sender},
                )
                .scalars()
                .all()
            )

        return [json.loads(r)["text"] for r in rows]

    def requests_senders(self):
        with sa.create_engine(self.app_url).connect() as connection:
            return set(connection.execute(sa.text("SELECT sender_id FROM gdpr_requests")).scalars())

    def requests_of(self, sender):
        with sa.create_engine(self.app_url).connect() as connection:
            return (
                connection.execute(sa.text("SELECT reference FROM gdpr_requests WHERE sender_id = :s"), {"s": sender})
                .scalars()
                .all()
            )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cluster")
    with ExitStack() as stack:
        tracker_url = stack.enter_context(fresh_postgres_database())
        app_url = stack.enter_context(fresh_postgres_database())
        env = {
            "TRACKER_STORE_URL": tracker_url,
            "DATABASE_URL": app_url,
            "REDIS_URL": REDIS_URL,
            "REDIS_LOCK_PREFIX": "test" + uuid.uuid4().hex[:8],
            "RATE_LIMIT_PER_MINUTE": "100000",
            "RABBITMQ_URL": RABBITMQ_URL,
            "RABBITMQ_QUEUE": "test_events_" + uuid.uuid4().hex[:8],
        }
        sink = MaildirSink(workdir / "mail", port=0)
        sink.start()
        stack.callback(sink.stop)
        action_server = ActionServer(
            workdir, env={"DATABASE_URL": app_url, "SMTP_URL": sink.url, "EMAIL_CODE_KEY": "test-key"}
        ).start()
        stack.callback(action_server.stop)
        servers = []
        for _ in range(2):
            server = RasaServer(workdir, action_url=action_server.url, tracker_store_url=tracker_url, env=env).start()
            stack.callback(server.stop)
            servers.append(server)
        cluster = Cluster(servers, action_server, tracker_url, app_url, workdir)
        cluster.mail_dir = sink.directory
        cluster.event_queue = env["RABBITMQ_QUEUE"]
        yield cluster
        _delete_queue(cluster.event_queue)


def custom(replies, key):
    return [r["custom"][key] for r in replies if key in r.get("custom", {})]


ACCESS_REQUEST = [
    ("je veux une copie de mes données", 1),
    ("Un projet de recherche du Health Data Hub", 2),
    ("Claire", 3),
    ("Fontaine", 4),
    ("{address}", 5),
    ("/affirm", 6),
    ("{code}", None),
]


def address_of(sender):
    return f"claire.{sender}@example.org"


def run_access_request(cluster, sender, start=0):
    """Send the access request's turns alternately to both servers, the code read from the
    Maildir; return the reference."""
    reference = None
    for i, (text, step) in enumerate(ACCESS_REQUEST):
        server = cluster.servers[(start + i) % 2]
        if text == "{code}":
            text = latest_code(cluster.mail_dir, address_of(sender))
        replies = server.say(sender, text.format(address=address_of(sender)), timeout=60)
        assert replies, f"no reply to {text!r}"
        if step:
            assert custom(replies, "form")[-1]["step"] == step, (sender, text, replies)
        else:
            reference = custom(replies, "request")[0]["reference"]
    return reference


def test_both_servers_use_the_redis_lock_store(cluster):
    for server in cluster.servers:
        assert "lock store: Redis" in (cluster.workdir / f"rasa-{server.port}.log").read_text()


def test_a_form_started_on_one_server_is_finished_on_the_other(cluster):
    sender = f"alt-{uuid.uuid4().hex[:8]}"
    reference = run_access_request(cluster, sender)
    assert re.fullmatch(r"HDH-\d{4}-\d{6}", reference)
    assert cluster.requests_of(sender) == [reference]
    assert cluster.user_texts(sender) == [
        ACCESS_REQUEST[0][0],
        ACCESS_REQUEST[1][0],
        "[masqué]",
        "[masqué]",
        "[e-mail masqué]",
        "/affirm",
        "[code masqué]",
    ]
    for server in cluster.servers:  # both servers see the same, consistent tracker
        tracker = server.tracker(sender)
        assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == cluster.user_texts(sender)


def test_concurrent_conversations_lose_and_duplicate_nothing(cluster, results_dir):
    senders = [f"conc-{i}-{uuid.uuid4().hex[:6]}" for i in range(16)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        references = list(
            pool.map(lambda args: run_access_request(cluster, *args), [(s, i) for i, s in enumerate(senders)])
        )
    elapsed = time.monotonic() - started
    assert len(set(references)) == len(senders)
    for sender, reference in zip(senders, references, strict=True):
        assert cluster.requests_of(sender) == [reference]
        assert len(cluster.user_texts(sender)) == len(ACCESS_REQUEST)
    # Several messages of ONE conversation at once, on both servers: the Redis lock
    # store serialises them, none is lost or stored twice.
    burst_sender = f"burst-{uuid.uuid4().hex[:6]}"
    burst = [f"question {i} : qu'est-ce que le SNDS ?" for i in range(8)]
    burst_started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda i: cluster.servers[i % 2].say(burst_sender, burst[i], timeout=120), range(8)))
    burst_elapsed = time.monotonic() - burst_started
    assert all(any(r.get("text") for r in reply) for reply in replies)
    stored = cluster.user_texts(burst_sender)
    assert sorted(stored) == sorted(burst)
    messages = len(senders) * len(ACCESS_REQUEST) + len(burst)
    (results_dir / "scale-out.txt").write_text(
        f"2 Rasa servers, 1 action server, PostgreSQL + Redis: {len(senders)} concurrent conversations, "
        f"{messages} messages, {len(senders)} requests stored once each, 0 lost, 0 duplicated, {elapsed:.1f} s "
        f"for the concurrent conversations; burst of {len(burst)} simultaneous messages on one conversation "
        f"across both servers: {len(stored)} stored once each, in {burst_elapsed:.1f} s.\n"
    )


def test_console_queries_on_postgresql(cluster):
    from tests.console_checks import check_queries

    token = uuid.uuid4().hex[:6]
    fallback, fact = f"pg-fallback-{token}", f"pg-fact-{token}"
    cluster.servers[0].say(fallback, cluster.servers[0].declined_message())
    cluster.servers[1].say(fact, "Qu'est-ce que le SNDS ?")
    form = next(iter(cluster.requests_senders()))
    check_queries(cluster.tracker_url, cluster.app_url, fallback, fact, "snds_presentation", form, page_size=4)


def test_database_connection_restart_is_recovered(cluster):
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names = [sa.engine.make_url(u).database for u in (cluster.tracker_url, cluster.app_url)]
    with admin.connect() as connection:
        killed = connection.execute(
            sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = ANY(:names)"),
            {"names": names},
        ).scalar_one()
    admin.dispose()
    assert killed >= 1
    sender = f"pgrestart-{uuid.uuid4().hex[:6]}"
    assert run_access_request(cluster, sender)
    assert len(cluster.requests_of(sender)) == 1


def test_action_server_stopped_then_back(cluster):
    sender = f"actdown-{uuid.uuid4().hex[:6]}"
    cluster.action_server.stop()
    try:
        # Facts are answered without the action server (rasa_addons.local_actions); a form needs it.
        replies = cluster.servers[0].say(sender, "Qu'est-ce que le Health Data Hub ?")
        assert "hdh_presentation" in custom(replies, "fact_id")
        replies = cluster.servers[0].say(sender, "/request_erasure")
        assert {"error": "service_unavailable"} in [r.get("custom") for r in replies]
        assert not custom(replies, "form")
    finally:
        cluster.action_server.start()
    replies = cluster.servers[1].say(sender, "/request_erasure")
    assert [f["name"] for f in custom(replies, "form")] == ["erasure_request_form"]


def test_one_server_stops_mid_conversation_and_the_other_continues(cluster):
    sender = f"failover-{uuid.uuid4().hex[:6]}"
    first, second = cluster.servers
    for text, step in ACCESS_REQUEST[:3]:
        assert custom(first.say(sender, text), "form")[-1]["step"] == step
    first.stop()
    for text, step in ACCESS_REQUEST[3:]:
        if text == "{code}":
            text = latest_code(cluster.mail_dir, address_of(sender))
        replies = second.say(sender, text.format(address=address_of(sender)))
        if step:
            assert custom(replies, "form")[-1]["step"] == step
    assert len(cluster.requests_of(sender)) == 1


def test_the_rate_limit_is_shared_by_both_servers(cluster):
    """One client spread over two servers gets RATE_LIMIT_PER_MINUTE once, not once per server."""
    env = {
        "TRACKER_STORE_URL": cluster.tracker_url,
        "DATABASE_URL": cluster.app_url,
        "REDIS_URL": REDIS_URL,
        "REDIS_LOCK_PREFIX": "test" + uuid.uuid4().hex[:8],
        "RATE_LIMIT_PER_MINUTE": "4",
    }
    servers = [
        RasaServer(
            cluster.workdir, action_url=cluster.action_server.url, tracker_store_url=cluster.tracker_url, env=env
        )
        for _ in range(2)
    ]
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=2) as pool:
        for server in servers:
            stack.callback(server.stop)
        list(pool.map(lambda server: server.start(), servers))  # start both at once
        statuses = []
        for i in range(8):
            response = requests.post(
                f"{servers[i % 2].url}/webhooks/rest/webhook",
                json={"sender": f"limited-{i}", "message": "bonjour"},
                timeout=60,
            )
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert response.json()["error"] == "rate_limited"
                assert 1 <= int(response.headers["Retry-After"]) <= 61
    assert statuses == [200] * 4 + [429] * 4


def test_free_text_personal_data_is_masked_in_postgresql_and_rabbitmq(cluster):
    """Issue #19 with the production configuration: PostgreSQL tracker store, RabbitMQ broker."""
    token = uuid.uuid4().hex[:6].translate(str.maketrans("0123456789", "ghijklmnop"))
    sender, surname, street = f"pii-{token}", f"Kerbrat{token}", f"Glycines{token}"
    message = (
        f"Bonjour, je suis Mme {surname}, j'habite 12 rue des {street}, 44000 Nantes. "
        "Je suis diabétique et je veux savoir qui voit mes données"
    )
    up = [s for s in cluster.servers if s.process is not None and s.process.poll() is None]  # a test stops one
    assert up[0].say(sender, message, timeout=60)
    assert up[-1].say(sender, surname, timeout=60)
    texts = cluster.user_texts(sender)
    assert texts and all("[nom masqué]" in t for t in texts), texts
    with sa.create_engine(cluster.tracker_url).connect() as connection:
        stored = "\n".join(
            connection.execute(sa.text("SELECT data FROM events WHERE sender_id = :s"), {"s": sender}).scalars()
        )
    published = "\n".join(_published_events(cluster.event_queue, sender))
    assert sender in published, "the events were published to RabbitMQ"
    assert "[adresse masquée]" in published and "[détail de santé masqué]" in published
    for secret in (surname, street, token, "44000 Nantes", "diabétique"):
        assert secret not in stored.replace(sender, ""), f"{secret!r} stored in PostgreSQL"
        assert secret not in published.replace(sender, ""), f"{secret!r} published to RabbitMQ"
