"""Sending one message over SMTP (SMTP_URL), with failures sorted into temporary and permanent.

Exception texts are shown to operators (the e-mail history of a request): they are in French
and never contain an address nor the server's free text, which often quotes the address.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import settings

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
DEFAULT_TIMEOUT = 10.0


class TemporaryFailure(Exception):
    """The message may go through later. `unreachable`: the server cannot be used at all
    (down, disconnected, TLS or login refused): the other messages would fail the same way."""

    def __init__(self, message: str, code: int | None = None, unreachable: bool = False):
        super().__init__(message)
        self.code = code
        self.unreachable = unreachable


class PermanentFailure(Exception):
    """The server refused this message for good (5xx on the recipient or on the data)."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SmtpSettings:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    starttls: bool
    ssl: bool
    timeout: float


def parse_smtp_url(url: str) -> SmtpSettings:
    """`smtp://host:port`, `smtp+starttls://user:password@host:587` or `smtps://user:password@host:465`,
    with an optional `?timeout=10` (seconds). Raises ValueError (never quoting the password)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise ValueError("SMTP_URL: not a URL") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(
            f"SMTP_URL: unsupported scheme {scheme or '(none)'!r}; use smtp://, smtp+starttls:// or smtps://"
        )
    host = parts.hostname
    if not host:
        raise ValueError("SMTP_URL: the server's host name is missing")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError("SMTP_URL: the port must be a number between 1 and 65535") from None
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("SMTP_URL: no path is allowed after host:port")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"timeout"}
    if unknown:
        raise ValueError(f"SMTP_URL: unknown parameter(s) {', '.join(sorted(unknown))}; only timeout is accepted")
    timeout = DEFAULT_TIMEOUT
    if "timeout" in query:
        try:
            timeout = float(query["timeout"][-1])
        except ValueError:
            timeout = 0.0
        if not 0 < timeout <= 600:
            raise ValueError("SMTP_URL: timeout must be a number of seconds between 0 and 600")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if scheme == "smtp" and (username or password):
        raise ValueError("SMTP_URL: credentials are never sent in clear; use smtp+starttls:// or smtps://")
    return SmtpSettings(
        scheme=scheme,
        host=host,
        port=port,
        username=username,
        password=password,
        starttls=scheme == "smtp+starttls",
        ssl=scheme == "smtps",
        timeout=timeout,
    )


def _by_code(code: int, refused: str, delayed: str) -> Exception:
    """5xx: refused for good; anything else: may work later."""
    if 500 <= code < 600:
        return PermanentFailure(f"{refused} ({code})", code)
    return TemporaryFailure(f"{delayed} ({code})", code)


def _failure(error: BaseException) -> Exception:
    """The TemporaryFailure or PermanentFailure matching an smtplib or socket error."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in error.recipients.values()]
        return _by_code(min(codes) if codes else 550, "adresse refusée", "adresse temporairement refusée")
    if isinstance(error, smtplib.SMTPDataError):
        return _by_code(error.smtp_code, "message refusé", "message temporairement refusé")
    if isinstance(error, smtplib.SMTPSenderRefused):
        return TemporaryFailure(f"expéditeur refusé par le serveur SMTP ({error.smtp_code})", error.smtp_code, True)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return TemporaryFailure(f"authentification SMTP refusée ({error.smtp_code})", error.smtp_code, True)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return TemporaryFailure("fonction non proposée par le serveur SMTP", None, True)
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return TemporaryFailure("SMTP indisponible (connexion interrompue)", None, True)
    if isinstance(error, (smtplib.SMTPConnectError, smtplib.SMTPHeloError)):
        return TemporaryFailure(f"SMTP indisponible ({error.smtp_code})", error.smtp_code, True)
    if isinstance(error, smtplib.SMTPResponseException):
        return TemporaryFailure(f"réponse inattendue du serveur SMTP ({error.smtp_code})", error.smtp_code, True)
    if isinstance(error, ssl.SSLCertVerificationError):
        return TemporaryFailure("TLS : certificat du serveur SMTP refusé", None, True)
    if isinstance(error, ssl.SSLError):
        return TemporaryFailure("TLS : échec de la négociation avec le serveur SMTP", None, True)
    if isinstance(error, (socket.timeout, TimeoutError)):
        return TemporaryFailure("SMTP indisponible (délai dépassé)", None, True)
    if isinstance(error, (OSError, smtplib.SMTPException)):
        return TemporaryFailure("SMTP indisponible", None, True)
    return TemporaryFailure(f"erreur inattendue ({type(error).__name__})")


def send(message: EmailMessage, url: str | None = None) -> None:
    """Send `message` to the server of `url` (default SMTP_URL).

    Raises TemporaryFailure (try again later) or PermanentFailure (the address or the message
    was refused); both are raised without the original exception, which quotes the address."""
    config = parse_smtp_url(url or settings.smtp_url())
    context = ssl.create_default_context()
    failure: Exception | None = None
    try:
        if config.ssl:
            client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    except (OSError, smtplib.SMTPException) as error:
        failure = _failure(error)
    if failure is not None:
        raise failure
    try:
        if config.starttls:
            client.ehlo()
            if not client.has_extn("starttls"):
                raise TemporaryFailure("STARTTLS non proposé par le serveur SMTP", None, True)
            client.starttls(context=context)
            client.ehlo()
        if config.username:
            client.login(config.username, config.password or "")
        try:
            refused = client.send_message(message)
        except smtplib.SMTPNotSupportedError:
            # SMTPUTF8 needed (an address with non-ASCII characters) and not offered.
            raise PermanentFailure("adresse non prise en charge par le serveur SMTP (SMTPUTF8)", 553) from None
        if refused:
            failure = _failure(smtplib.SMTPRecipientsRefused(refused))
    except (TemporaryFailure, PermanentFailure):
        raise
    except (OSError, smtplib.SMTPException) as error:
        failure = _failure(error)
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    if failure is not None:
        raise failure
