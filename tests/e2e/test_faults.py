"""Faults and abuse: action server down then back, rate limit per client — on a second real server."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid

import pytest
import requests

from devtools.servers import ActionServer, RasaServer, free_port

pytestmark = pytest.mark.servers
RATE_LIMIT = 8
REST_TOKEN = "rest-token-for-trusted-callers"


@pytest.fixture(scope="module")
def fragile(servers_dir, app_database_url, tmp_path_factory):
    """A Rasa server whose action server is not running yet, with a low rate limit."""
    workdir = tmp_path_factory.mktemp("fragile")
    action_port = free_port()
    server = RasaServer(
        workdir,
        action_url=f"http://127.0.0.1:{action_port}",
        tracker_store_url=f"sqlite:///{workdir / 'conversations.db'}",
        env={
            "DATABASE_URL": app_database_url,
            "RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
            "ACTION_TIMEOUT_SECONDS": "3",
            "TRUSTED_PROXY_COUNT": "1",
            "REST_CHANNEL_TOKEN": REST_TOKEN,
        },
    ).start()
    action_server = ActionServer(workdir, env={"DATABASE_URL": app_database_url}, port=action_port)
    yield server, action_server
    action_server.stop()
    server.stop()


def test_slow_action_server_times_out_with_a_clear_answer(fragile):
    server, action_server = fragile
    # A server that accepts connections and never answers, on the action server's port.
    with socket.socket() as black_hole:
        black_hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        black_hole.bind(("127.0.0.1", action_server.port))
        black_hole.listen(16)
        started = time.monotonic()
        # A request form needs the action server (fact answers do not: rasa_addons.local_actions).
        replies = server.say(f"slow-{uuid.uuid4().hex[:8]}", "/request_erasure", timeout=60)
        elapsed = time.monotonic() - started
    assert {"error": "service_unavailable"} in [r.get("custom") for r in replies]
    assert elapsed < 20, f"the citizen waited {elapsed:.0f} s"


def test_action_server_down_gives_a_clear_answer_then_recovers(fragile):
    server, action_server = fragile
    sender = f"fault-{uuid.uuid4().hex[:8]}"
    # Facts are still answered: they run in the Rasa server (rasa_addons.local_actions).
    replies = server.say(sender, "Qu'est-ce que le Health Data Hub ?")
    assert any(r.get("custom", {}).get("fact_id") == "hdh_presentation" for r in replies), replies
    replies = server.say(sender, "/request_erasure")
    assert "momentanément indisponible" in " ".join(r.get("text", "") for r in replies)
    assert {"error": "service_unavailable"} in [r.get("custom") for r in replies]
    assert not any("form" in r.get("custom", {}) for r in replies)
    action_server.start()
    replies = server.say(sender, "/request_erasure")
    assert any(r.get("custom", {}).get("form", {}).get("name") == "erasure_request_form" for r in replies), replies


def test_rate_limit_answers_429_in_french(fragile):
    server, _ = fragile
    statuses = []
    for _ in range(RATE_LIMIT + 2):
        response = requests.post(
            f"{server.url}/webhooks/rest/webhook",
            json={"sender": "flood", "message": "bonjour"},
            headers={"Authorization": f"Bearer {REST_TOKEN}"},
            timeout=30,
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            body = response.json()
            assert body["error"] == "rate_limited" and "Patientez" in body["message"]
            assert int(response.headers["Retry-After"]) >= 1
            break
    assert statuses[-1] == 429 and all(s == 200 for s in statuses[:-1])


def rest_statuses(server, count, forwarded_for=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    headers["Authorization"] = f"Bearer {REST_TOKEN}"
    return [
        requests.post(
            f"{server.url}/webhooks/rest/webhook",
            json={"sender": f"proxied-{uuid.uuid4().hex[:6]}", "message": "bonjour"},
            headers=headers,
            timeout=30,
        ).status_code
        for _ in range(count)
    ]


def test_behind_the_proxy_each_citizen_has_their_own_limit(fragile):
    server, _ = fragile
    assert rest_statuses(server, RATE_LIMIT + 1, "198.51.100.7") == [200] * RATE_LIMIT + [429]
    assert rest_statuses(server, 1, "198.51.100.8") == [200]  # another citizen behind the same proxy
    # The proxy appends the address it saw; what the client wrote before it is not trusted.
    assert rest_statuses(server, 1, "198.51.100.9, 198.51.100.7") == [429]


async def socketio_flood(url, source_address, count):
    """`count` messages at once over socket.io from a given local address; the replies."""
    import aiohttp
    import socketio

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source_address, 0)))
    client = socketio.AsyncClient(reconnection=False, http_session=session)
    received, confirmed = [], asyncio.Event()
    client.on("session_confirm", lambda data: confirmed.set())
    client.on("bot_uttered", lambda data: received.append(data))
    session_id = uuid.uuid4().hex
    try:
        await client.connect(url, socketio_path="/socket.io", transports=["polling"])
        await client.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(confirmed.wait(), 10)
        for _ in range(count):
            await client.emit("user_uttered", {"message": "bonjour", "session_id": session_id})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(1 for r in received if r.get("text")) < count:
            await asyncio.sleep(0.2)
        await client.disconnect()
    finally:
        await session.close()
    return received


def test_widget_users_are_limited_one_by_one_not_all_together(fragile):
    """python-engineio gives every socket.io client the address 127.0.0.1: one flooding
    citizen used to silence the widget for everyone."""
    server, _ = fragile
    flooded = asyncio.run(socketio_flood(server.url, "127.0.0.2", RATE_LIMIT + 1))
    assert [r["custom"]["error"] for r in flooded if "error" in (r.get("custom") or {})] == ["rate_limited"]
    other = asyncio.run(socketio_flood(server.url, "127.0.0.3", 1))
    assert other and not any(
        "error" in (r.get("custom") or {}) and r["custom"]["error"] == "rate_limited" for r in other
    )


def test_the_rest_channel_answers_only_trusted_callers_when_a_token_is_set(fragile):
    """Issue #23.9: REST takes any sender, so production requires its token (docker/ sets it)."""
    server, _ = fragile
    url = f"{server.url}/webhooks/rest/webhook"
    body = {"sender": f"rest-{uuid.uuid4().hex[:8]}", "message": "bonjour"}
    client = {"X-Forwarded-For": "198.51.100.50"}  # its own rate-limit budget
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": REST_TOKEN}):
        refused = requests.post(url, json=body, headers={**client, **headers}, timeout=30)
        assert refused.status_code == 401 and "Jeton" in refused.json()["message"]
    accepted = requests.post(url, json=body, headers={**client, "Authorization": f"Bearer {REST_TOKEN}"}, timeout=30)
    assert accepted.status_code == 200 and accepted.json()
