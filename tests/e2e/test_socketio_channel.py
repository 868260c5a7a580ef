"""The widget's socket.io channel: replies arrive with session persistence, across reconnects."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import socketio

pytestmark = pytest.mark.servers


async def exchange(url: str, session_id: str, messages, settle: float = 1.5):
    client = socketio.AsyncClient(reconnection=False)
    received, confirmed, granted = [], asyncio.Event(), []

    @client.on("session_confirm")
    async def on_confirm(data):
        granted.append(data)  # the id to use: the one asked for, or a new one if it was not acceptable
        confirmed.set()

    @client.on("bot_uttered")
    async def on_bot(data):
        received.append(data)

    # Long-polling: the locked aiohttp predates what python-engineio's WebSocket client
    # needs; the browser tests cover the WebSocket transport.
    await client.connect(url, socketio_path="/socket.io", transports=["polling"])
    await client.emit("session_request", {"session_id": session_id})
    await asyncio.wait_for(confirmed.wait(), 10)
    replies = []
    for message in messages:
        before = len(received)
        await client.emit("user_uttered", {"message": message, "session_id": granted[-1]})
        deadline = asyncio.get_event_loop().time() + 30
        while len(received) == before and asyncio.get_event_loop().time() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(settle)
        replies.append(received[before:])
    await client.disconnect()
    return replies


def conversation_id(session_secret: str) -> str:
    from devtools.servers import API_TOKEN
    from rasa_addons.channels import sender_for_session

    return sender_for_session(session_secret, key=API_TOKEN)


def test_replies_arrive_and_the_session_persists_across_reconnects(assistant):
    session = uuid.uuid4().hex
    (first,) = asyncio.run(exchange(assistant.url, session, ["Qu'est-ce que le SNDS ?"]))
    assert any(r.get("text") for r in first)
    assert any((r.get("custom") or {}).get("fact_id") == "snds_presentation" for r in first)
    (second,) = asyncio.run(exchange(assistant.url, session, ["merci"]))
    assert any(r.get("text") for r in second)
    user_texts = [e["text"] for e in assistant.tracker(conversation_id(session))["events"] if e["event"] == "user"]
    assert user_texts == ["Qu'est-ce que le SNDS ?", "merci"]
    assert not [e for e in assistant.tracker(session)["events"] if e["event"] == "user"], (
        "the secret itself is not the conversation id"
    )


async def intrude(url: str, presented: str, claimed: str) -> list:
    """A socket that presents one session and posts a message claiming another; its replies."""
    client = socketio.AsyncClient(reconnection=False)
    received, confirmed = [], asyncio.Event()
    client.on("session_confirm", lambda data: confirmed.set())
    client.on("bot_uttered", lambda data: received.append(data))
    await client.connect(url, socketio_path="/socket.io", transports=["polling"])
    await client.emit("session_request", {"session_id": presented})
    await asyncio.wait_for(confirmed.wait(), 10)
    await client.emit("user_uttered", {"message": "je veux effacer mes données", "session_id": claimed})
    await asyncio.sleep(3)
    await client.disconnect()
    return received


def test_knowing_a_conversation_id_does_not_give_the_conversation(assistant):
    """Issue #23.9: the id operators and logs see cannot be used to join or post into a session."""
    victim = uuid.uuid4().hex
    asyncio.run(exchange(assistant.url, victim, ["Qu'est-ce que le SNDS ?"]))
    stored_id = conversation_id(victim)

    # Joining with the stored id opens another conversation, with none of the victim's messages.
    (replies,) = asyncio.run(exchange(assistant.url, stored_id, ["bonjour"]))
    assert not any((r.get("custom") or {}).get("fact_id") == "snds_presentation" for r in replies)

    # Posting into the victim's session from a socket that presented another one is refused.
    refused = asyncio.run(intrude(assistant.url, uuid.uuid4().hex, victim))
    assert refused and "session a expiré" in refused[0]["text"]
    user_texts = [e["text"] for e in assistant.tracker(stored_id)["events"] if e["event"] == "user"]
    assert user_texts == ["Qu'est-ce que le SNDS ?"], "nothing was posted into the victim's conversation"


def test_bad_input_over_socketio_gets_a_french_reply(assistant):
    session = uuid.uuid4().hex
    long_reply, empty_reply = asyncio.run(exchange(assistant.url, session, ["x" * 5000, "   "], settle=0.5))
    assert "trop long" in long_reply[0]["text"]
    assert "vide" in empty_reply[0]["text"]


async def send_oversized(url: str, session_id: str, size: int) -> list:
    client = socketio.AsyncClient(reconnection=False)
    received, confirmed = [], asyncio.Event()
    client.on("session_confirm", lambda data: confirmed.set())
    client.on("bot_uttered", lambda data: received.append(data))
    await client.connect(url, socketio_path="/socket.io", transports=["polling"])
    await client.emit("session_request", {"session_id": session_id})
    await asyncio.wait_for(confirmed.wait(), 10)
    await client.emit("user_uttered", {"message": "x" * size, "session_id": session_id})
    await asyncio.sleep(3)
    if client.connected:
        await client.disconnect()
    return received


def test_an_oversized_socketio_packet_is_refused_before_it_is_read(assistant):
    # 900 KB: far above the 16 KiB a message can need (1000 characters of text at most).
    received = asyncio.run(send_oversized(assistant.url, f"sio-{uuid.uuid4().hex[:10]}", 900_000))
    assert received == [], "the server read and answered a 900 KB packet"
    # The server stays available to everyone else.
    (reply,) = asyncio.run(exchange(assistant.url, f"sio-{uuid.uuid4().hex[:10]}", ["merci"]))
    assert any(r.get("text") for r in reply)


def test_polling_answers_a_browser_with_one_allow_origin_header(assistant):
    """Chromium refuses a response with two Access-Control-Allow-Origin values, which broke every
    standard socket.io client (rasa-webchat) and any fallback to long-polling."""
    import requests

    origin = assistant.env["CORS_ORIGINS"].split()[0]
    response = requests.get(
        f"{assistant.url}/socket.io/",
        params={"EIO": "4", "transport": "polling"},
        headers={"Origin": origin},
        timeout=10,
    )
    assert response.status_code == 200
    values = [v for k, v in response.raw.headers.items() if k.lower() == "access-control-allow-origin"]
    assert values == [origin]
    foreign = requests.get(
        f"{assistant.url}/socket.io/",
        params={"EIO": "4", "transport": "polling"},
        headers={"Origin": "https://evil.example"},
        timeout=10,
    )
    assert foreign.status_code == 400, "a foreign origin is still refused"
