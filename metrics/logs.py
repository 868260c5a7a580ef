"""The logging setup of every process: `configure()`, called first by each launcher.

`LOG_FORMAT=text` (default): one readable line per record, as before. `LOG_FORMAT=json`: one
JSON object per line with `time` (ISO 8601, UTC), `level`, `logger`, `message`, and, when
there is one, `conversation` (the sender id hashed: never the id itself) and `request_id`
(the Rasa message id; one id per HTTP request in the web app). Third-party loggers that bring
their own handlers (Sanic) are sent through the same handler (`adopt_handlers`).

In both formats a last line of defence masks e-mail addresses, NIR and phone numbers in every
message and traceback (privacy.masking.mask_text); what the project's own code logs is
already free of personal data.

    python -m metrics.logs <sender id>   # the `conversation` value of a conversation's records
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import sys
import threading
from functools import lru_cache
from typing import Iterator, Optional

import settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_conversation: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("mds_conversation", default=None)
_request_id: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("mds_request_id", default=None)
# The raw sender id, in memory only: a message that quotes it (Rasa's « … for sender 'x' ») gets the hash.
_sender: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("mds_sender", default=None)
_PROCESS_KEY = secrets.token_bytes(32)


@lru_cache(maxsize=4)
def _pseudonym_key(secret: str) -> bytes:
    if not secret:
        return _PROCESS_KEY
    return hashlib.sha256(b"mes-donnees-de-sante:log-pseudonym:" + secret.encode("utf-8")).digest()


def conversation_hash(sender_id: str, secret: Optional[str] = None) -> str:
    """First 16 hex characters of HMAC-SHA256(sender id), keyed from ACTION_SERVER_TOKEN (which
    every process of a deployment shares: a conversation has the same hash in the Rasa server's
    and the action server's logs; a random key per process when it is unset)."""
    key = _pseudonym_key(settings.action_server_token() if secret is None else secret)
    return hmac.new(key, sender_id.encode("utf-8"), hashlib.sha256).hexdigest()[:16]


@contextlib.contextmanager
def context(sender_id: Optional[str] = None, request_id: Optional[str] = None) -> Iterator[None]:
    """Records logged inside carry this conversation (hashed) and request id."""
    tokens = bind(sender_id, request_id)
    try:
        yield
    finally:
        unbind(tokens)


def bind(sender_id: Optional[str] = None, request_id: Optional[str] = None) -> tuple:
    """Set the context until `unbind` (for hooks that cannot wrap a block: middleware)."""
    return (
        _conversation.set(conversation_hash(sender_id) if sender_id else None),
        _request_id.set(request_id or None),
        _sender.set(sender_id or None),
    )


def unbind(tokens: tuple) -> None:
    try:
        for variable, token in zip((_conversation, _request_id, _sender), tokens, strict=True):
            variable.reset(token)
    except ValueError:  # set in another context (a task that ended elsewhere): clear instead
        for variable in (_conversation, _request_id, _sender):
            variable.set(None)


class ContextFilter(logging.Filter):
    """Adds `conversation` and `request_id` to each record from the current context."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "conversation", None) is None:
            record.conversation = _conversation.get()
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id.get()
        return True


class MaskingFilter(logging.Filter):
    """Masks e-mails, NIR, phone numbers (and letter keys) in the message and the traceback,
    and the current conversation's sender id (replaced by its hash)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "mds_masked", False):
            return True
        from privacy.masking import mask_text

        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format: keep the format only
            message = str(record.msg)
        sender = _sender.get()
        if sender and sender in message:
            message = message.replace(sender, f"[conversation {conversation_hash(sender)}]")
        record.msg, record.args = mask_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        record.mds_masked = True
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        moment = dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
        entry = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("conversation", "request_id"):
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def json_enabled() -> bool:
    return settings.log_format() == "json"


def _filters() -> list:
    return [ContextFilter(), MaskingFilter()]


def _equip(handler: logging.Handler) -> None:
    """Add the context and masking filters to a handler, once."""
    present = {type(f) for f in handler.filters}
    for item in _filters():
        if type(item) not in present:
            handler.addFilter(item)


def _handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_enabled() else logging.Formatter(TEXT_FORMAT))
    _equip(handler)
    handler.mds_handler = True
    return handler


def configure(level: int = logging.INFO) -> None:
    """The root logger writes to stderr in LOG_FORMAT, every record masked. With JSON,
    warnings and uncaught exceptions become records too (one line each)."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(_handler())
    root.setLevel(level)
    if json_enabled():
        logging.captureWarnings(True)
        sys.excepthook = _log_uncaught
        threading.excepthook = lambda args: _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)
    adopt_handlers()


def adopt_handlers() -> None:
    """Bring loggers that installed handlers of their own (Sanic's, Rasa's colour handler)
    under the setup: with JSON, their records go through the root handler only; with text,
    they keep their handler and format, with the masking and context filters added."""
    root = logging.getLogger()
    loggers = [root] + [item for item in logging.Logger.manager.loggerDict.values() if isinstance(item, logging.Logger)]
    if json_enabled():
        if not any(getattr(h, "mds_handler", False) for h in root.handlers):
            for existing in list(root.handlers):
                root.removeHandler(existing)
            root.addHandler(_handler())
        for item in loggers:
            if item is root:
                for existing in [h for h in root.handlers if not getattr(h, "mds_handler", False)]:
                    root.removeHandler(existing)
                continue
            if item.handlers:  # a logger without handlers keeps its choice to propagate or not
                for existing in list(item.handlers):
                    item.removeHandler(existing)
                item.propagate = True
        return
    for item in loggers:
        for handler in item.handlers:
            _equip(handler)


def _log_uncaught(exc_type, exc_value, traceback) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc_value, traceback)
        return
    logging.getLogger("uncaught").critical("uncaught exception", exc_info=(exc_type, exc_value, traceback))


def main(argv: Optional[list] = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1:
        print("usage: python -m metrics.logs <sender id>", file=sys.stderr)
        return 2
    print(conversation_hash(arguments[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
