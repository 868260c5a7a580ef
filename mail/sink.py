"""The embedded default mail server: a real SMTP server on the loopback that keeps every message
it receives in a Maildir (MAIL_DIR), so nothing leaves the machine in development and tests.

    python -m mail.sink [--dir var/mail] [--host 127.0.0.1] [--port 8025]
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import logging
import mailbox
import os
import signal
import threading
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller

import settings
from mail.transport import parse_smtp_url
from metrics import logs

logger = logging.getLogger("mail.sink")

REFUSAL = "550 5.1.1 Adresse refusée"

# aiosmtpd logs every command at INFO, addresses included: keep only its warnings.
logging.getLogger("mail.log").setLevel(logging.WARNING)


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _MaildirHandler:
    """aiosmtpd handler: refuses the recipients `refuse` names, stores each message in the Maildir."""

    def __init__(self, directory: Path, refuse: Callable[[str], bool] | None):
        Path(directory).parent.mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(directory, create=True)
        self.refuse = refuse
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        if self.refuse is not None and self.refuse(address):
            return REFUSAL
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        with self._lock:
            self.maildir.add(content.replace(b"\r\n", b"\n"))
        return "250 2.0.0 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's controller, able to listen on port 0 (a free port, read back after binding)."""

    def _create_server(self):
        create = super()._create_server()

        async def bind():
            server = await create
            self.port = server.sockets[0].getsockname()[1]
            return server

        return bind()

    def _run(self, ready_event: threading.Event) -> None:
        try:
            super()._run(ready_event)
        finally:
            ready_event.set()  # a failure to bind is reported at once, not after ready_timeout

    def _trigger_server(self):
        if self._thread_exception is not None:
            raise self._thread_exception
        super()._trigger_server()


class MaildirSink:
    """A real SMTP server storing every message in `directory` (a Maildir). `port=0` picks a free
    port: `port` tells which once started. `refuse(address)` true: that recipient gets a 550."""

    def __init__(
        self,
        directory: Path,
        host: str = "127.0.0.1",
        port: int = 8025,
        refuse: Callable[[str], bool] | None = None,
        *,
        allow_remote: bool = False,
    ):
        if not allow_remote and not is_loopback(host):
            raise ValueError(f"the mail sink listens on the loopback only, not on {host!r} (allow_remote=True)")
        self.directory = Path(directory)
        self.host = host
        self._port = port
        self.refuse = refuse
        self._controller: _Controller | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The SMTP_URL that reaches this sink."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"smtp://{host}:{self._port}"

    def start(self) -> None:
        if self._controller is not None:
            raise RuntimeError("the mail sink is already running")
        controller = _Controller(
            _MaildirHandler(self.directory, self.refuse),
            hostname=self.host,
            port=self._port,
            server_hostname="localhost",
            ready_timeout=10,
        )
        controller.start()
        self._port = controller.port
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MaildirSink:
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


def _message_files(directory: Path) -> list[tuple[float, Path]]:
    files = []
    for sub in ("new", "cur"):
        try:
            entries = list(os.scandir(Path(directory) / sub))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.is_file() and not entry.name.startswith("."):
                files.append((entry.stat().st_mtime, Path(entry.path)))
    return files


def last_messages(directory: Path, limit: int = 20) -> list[dict]:
    """The `limit` latest messages of the Maildir, newest first: subject, to, from, date (the Date
    header, a datetime or None), message_id, text (the plain-text body) and delivered_at."""
    latest = sorted(_message_files(directory), key=lambda item: (item[0], item[1].name), reverse=True)[:limit]
    messages = []
    parser = BytesParser(policy=policy.default)
    for mtime, path in latest:
        try:
            parsed = parser.parsebytes(path.read_bytes())
        except FileNotFoundError:  # moved by a mail client meanwhile
            continue
        body = parsed.get_body(preferencelist=("plain",))
        date = parsed["Date"]
        messages.append(
            {
                "subject": str(parsed["Subject"] or "").strip(),
                "to": str(parsed["To"] or "").strip(),
                "from": str(parsed["From"] or "").strip(),
                "date": getattr(date, "datetime", None) if date is not None else None,
                "message_id": str(parsed["Message-ID"] or "").strip(),
                "text": body.get_content() if body is not None else "",
                "delivered_at": dt.datetime.fromtimestamp(mtime, dt.timezone.utc),
            }
        )
    return messages


def _defaults() -> tuple[str, int]:
    """Host and port of SMTP_URL when it points at a plain SMTP server on the loopback."""
    try:
        config = parse_smtp_url(settings.smtp_url())
    except ValueError:
        return "127.0.0.1", 8025
    if config.scheme == "smtp" and is_loopback(config.host):
        return config.host, config.port
    return "127.0.0.1", 8025


def main(argv: list[str] | None = None) -> int:
    host, port = _defaults()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=settings.mail_dir(), help="Maildir (default: MAIL_DIR)")
    parser.add_argument("--host", default=host, help=f"address to listen on (default: {host})")
    parser.add_argument("--port", type=int, default=port, help=f"port (default: {port})")
    parser.add_argument("--allow-remote", action="store_true", help="allow listening on a non-loopback address")
    args = parser.parse_args(argv)
    logs.configure()

    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    sink = MaildirSink(args.dir, args.host, args.port, allow_remote=args.allow_remote)
    try:
        sink.start()
    except OSError as error:
        problem = f"cannot listen on {args.host}:{args.port} ({error.strerror or error})"
        if logs.json_enabled():
            logger.error("mail sink not started: %s", problem)
        else:
            print(f"Mail sink not started: {problem}")
        return 1
    ready = f"listening on {sink.url}: every message is stored in {args.dir.resolve()} (Maildir)"
    if logs.json_enabled():  # one JSON object per line; as text, the line `make run` has always shown
        logger.info("mail sink %s", ready)
    else:
        print(f"Mail sink {ready}", flush=True)
    try:
        while not stop.wait(1):
            pass
    finally:
        sink.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
