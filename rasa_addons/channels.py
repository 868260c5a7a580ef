"""Public channels with the message guard: REST (`rest`) and socket.io (`socketio`).

Registered in credentials.yml in place of Rasa's own classes; the URLs are unchanged
(/webhooks/rest/webhook, /socket.io). A malformed request gets a clear 4xx; a text
message always gets a visible reply, even when an internal part fails.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import logging
import secrets
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Union

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

import rasa_addons
import settings
from metrics import rasa_server as rasa_metrics
from privacy.masking import contains_nir
from rasa_addons.message_guard import (
    RATE_LIMITED_MESSAGE,
    UNAVAILABLE_MESSAGE,
    RateLimiter,
    RedisRateLimiter,
    check_text,
    rate_limiter_from_environment,
    valid_sender,
)

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 16 * 1024


def allowed_origins() -> List[str]:
    """Sites allowed to open the widget's connection (CORS_ORIGINS, space or comma separated)."""
    return settings.cors_origins()


def _error(status: int, code: str, message: str) -> HTTPResponse:
    return response.json({"error": code, "message": message}, status=status)


def client_address(request: Request) -> str:
    return settings.client_address(request.ip, request.headers.get("x-forwarded-for"))


def socketio_client_address(environ: Dict[str, Any]) -> str:
    # python-engineio's Sanic driver writes REMOTE_ADDR = 127.0.0.1 for every client; the
    # connection's real peer is on the Sanic request it keeps in the environ.
    request = environ.get("sanic.request")
    peer = getattr(request, "ip", None) or environ.get("REMOTE_ADDR")
    return settings.client_address(peer, environ.get("HTTP_X_FORWARDED_FOR"))


class GuardedRestInput(RestInput):
    """Rasa's REST channel, guarded."""

    def __init__(self, rate_limiter: Optional[Union[RateLimiter, RedisRateLimiter]] = None) -> None:
        rasa_addons.install()
        self.rate_limiter = rate_limiter or rate_limiter_from_environment()

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "GuardedRestInput":
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            # REST takes any `sender`: it is for trusted callers. With REST_CHANNEL_TOKEN set (as in
            # docker/), only callers holding the token get in; the widget uses socket.io.
            expected = settings.rest_channel_token()
            if expected:
                sent = request.headers.get("authorization", "")
                if not hmac.compare_digest(sent.encode("utf-8"), f"Bearer {expected}".encode("utf-8")):
                    return _error(401, "unauthorized", "Jeton du canal REST manquant ou invalide.")
            if len(request.body or b"") > MAX_BODY_BYTES:
                return _error(413, "payload_too_large", "La requête est trop volumineuse.")
            try:
                body = request.json
            except Exception:  # sanic raises InvalidUsage on malformed JSON
                return _error(400, "invalid_json", "Le corps de la requête doit être un objet JSON.")
            if not isinstance(body, dict):
                return _error(400, "invalid_json", "Le corps de la requête doit être un objet JSON.")
            sender = body.get("sender")
            if not valid_sender(sender):
                return _error(
                    400, "invalid_sender", "Le champ « sender » doit être un identifiant de 1 à 128 caractères."
                )
            allowed, wait = self.rate_limiter.allow(client_address(request))
            if not allowed:
                rasa_metrics.rate_limited(self.name())
                return response.json(
                    {"error": "rate_limited", "message": RATE_LIMITED_MESSAGE.format(seconds=wait)},
                    status=429,
                    headers={"Retry-After": str(wait)},
                )
            verdict = check_text(body.get("message"))
            if verdict.text is None:
                rasa_metrics.rejected(self.name(), verdict.reason)
                return response.json(
                    [
                        {"recipient_id": sender, "text": verdict.reply},
                        {"recipient_id": sender, "custom": {"error": verdict.reason}},
                    ]
                )
            collector = CollectingOutputChannel()
            if contains_nir(verdict.text):
                await collector.send_text_message(sender, NIR_REMINDER)
            message_id = uuid.uuid4().hex
            with rasa_metrics.handling(self.name(), sender, message_id):
                try:
                    await on_new_message(
                        UserMessage(verdict.text, collector, sender, input_channel=self.name(), message_id=message_id)
                    )
                except Exception as error:  # never a 5xx nor an empty reply for a text message
                    logger.error("message processing failed: %s", type(error).__name__)
            return response.json(with_fallback_reply(collector.messages, sender))

        return webhook


NIR_REMINDER = (
    "Votre message semble contenir un numéro de sécurité sociale : je n'en ai jamais besoin. "
    "Il est masqué dans l'historique de la conversation."
)


def with_fallback_reply(messages: List[Dict[str, Any]], sender: str) -> List[Dict[str, Any]]:
    if any((m.get("text") and m.get("text") != NIR_REMINDER) or m.get("custom") or m.get("buttons") for m in messages):
        return messages
    return messages + [
        {"recipient_id": sender, "text": UNAVAILABLE_MESSAGE},
        {"recipient_id": sender, "custom": {"error": "service_unavailable"}},
    ]


class OriginCheckingServer(AsyncServer):
    """python-socketio's server that checks the Origin header (browsers do not apply CORS to
    WebSockets) but leaves the CORS response headers to the Rasa server's own CORS handling
    (`--cors`): both adding them gave two Access-Control-Allow-Origin values, which browsers
    refuse, so the polling transport (and rasa-webchat) could not connect."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eio._cors_headers = lambda environ: []


class GuardedSocketIOOutput(SocketIOOutput):
    """Sends `custom` payloads as `{"custom": ...}` like the REST channel (Rasa 3.6 passes
    them to `emit` as keyword arguments, which fails), and counts what it sends so that a
    message that got no reply can still be answered."""

    sent = 0

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        self.sent += 1
        await super()._send_message(socket_id, response)

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"custom": json_message})


# A session secret shorter than this is not one the server issued (uuid4 hex: 32 characters).
MIN_SESSION_SECRET_CHARS = 16
_PROCESS_SESSION_KEY = secrets.token_hex(32)


def sender_for_session(session_secret: str, key: Optional[str] = None) -> str:
    """The conversation id (Rasa's sender id) of a socket.io session secret: a keyed hash, the
    same on every Rasa server sharing SOCKET_SESSION_KEY (RASA_API_TOKEN when unset)."""
    key = key if key is not None else (settings.socket_session_key() or _PROCESS_SESSION_KEY)
    digest = hmac.new(key.encode("utf-8"), session_secret.encode("utf-8"), hashlib.sha256).hexdigest()
    return "sio-" + digest[:32]


class GuardedSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel, guarded, with session persistence that works on any
    python-socketio version (RasaHQ/rasa#13027: `enter_room` became a coroutine)."""

    def __init__(
        self, *args: Any, rate_limiter: Optional[Union[RateLimiter, RedisRateLimiter]] = None, **kwargs: Any
    ) -> None:
        rasa_addons.install()
        super().__init__(*args, **kwargs)
        self.rate_limiter = rate_limiter or rate_limiter_from_environment()
        self._client_of_sid: Dict[str, str] = {}
        self._sender_of_sid: Dict[str, str] = {}

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # Browsers do not apply CORS to WebSockets: check the Origin header here.
        # An engine.io packet larger than a REST body is refused before it is read or cleaned: a
        # 900 KB message no longer holds Rasa's single event loop (the guard caps text at 1000 chars).
        sio = OriginCheckingServer(
            async_mode="sanic", cors_allowed_origins=allowed_origins(), max_http_buffer_size=MAX_BODY_BYTES
        )
        webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            self._client_of_sid[sid] = socketio_client_address(environ)
            return True

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text) -> None:
            self._client_of_sid.pop(sid, None)
            self._sender_of_sid.pop(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any) -> None:
            # The session id the browser keeps is a secret; the conversation is stored under a
            # keyed hash of it (sender_for_session). Knowing a conversation's sender id (console,
            # logs) therefore does not let anyone join it, and a socket posts only into the
            # session it presented (issue #23.9). Compatible with rasa-webchat, which keeps and
            # sends back the id of session_confirm.
            session_id = data.get("session_id") if isinstance(data, dict) else None
            if not valid_sender(session_id) or len(session_id) < MIN_SESSION_SECRET_CHARS:
                session_id = uuid.uuid4().hex
            sender = sender_for_session(session_id)
            self._sender_of_sid[sid] = sender
            if self.session_persistence:
                entered = sio.enter_room(sid, sender, namespace=self.namespace)
                if inspect.isawaitable(entered):
                    await entered
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any) -> None:
            output = GuardedSocketIOOutput(sio, self.bot_message_evt)
            data = data if isinstance(data, dict) else {}
            if self.session_persistence:
                # Only the session this socket presented; the session_id in the message must be it.
                sender = self._sender_of_sid.get(sid)
                claimed = data.get("session_id")
                if sender is None or not isinstance(claimed, str) or sender_for_session(claimed) != sender:
                    await output.send_text_message(sid, "Votre session a expiré : rechargez la page pour continuer.")
                    return
                recipient = sender
            else:
                sender = recipient = sid
            allowed, wait = self.rate_limiter.allow(self._client_of_sid.get(sid, sid))
            if not allowed:
                rasa_metrics.rate_limited(self.name())
                await output.send_text_message(recipient, RATE_LIMITED_MESSAGE.format(seconds=wait))
                await output.send_custom_json(recipient, {"error": "rate_limited", "retry_after": wait})
                return
            verdict = check_text(data.get("message"))
            if verdict.text is None:
                rasa_metrics.rejected(self.name(), verdict.reason)
                await output.send_text_message(recipient, verdict.reply)
                await output.send_custom_json(recipient, {"error": verdict.reason})
                return
            if contains_nir(verdict.text):
                await output.send_text_message(recipient, NIR_REMINDER)
            answered_before = output.sent
            message_id = uuid.uuid4().hex
            with rasa_metrics.handling(self.name(), sender, message_id):
                try:
                    await on_new_message(
                        UserMessage(verdict.text, output, sender, input_channel=self.name(), message_id=message_id)
                    )
                except Exception as error:
                    logger.error("message processing failed: %s", type(error).__name__)
            if output.sent == answered_before:
                await output.send_text_message(recipient, UNAVAILABLE_MESSAGE)
                await output.send_custom_json(recipient, {"error": "service_unavailable"})

        return webhook
