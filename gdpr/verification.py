"""Proof of the citizen's e-mail address: a 6-digit code sent to it before a request is recorded.

Rules (issue #17): a code is valid for 10 minutes and allows 5 attempts; a new code can be
asked for, at most 3 codes per hour per address and per conversation. Only a keyed hash of the
code is stored (HMAC-SHA256 with EMAIL_CODE_KEY, so a copy of the database does not give the
codes away by brute force), compared in constant time, and a code works once. A verification is
bound to the draft it proves (its submission key) and to the address as typed: correcting the
address after the code was accepted asks for a new one.

The code is sent at once, never queued: a code waiting in the outbox would sit in the database
in clear. When the mail server cannot be reached, the citizen is told so and can ask again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

import settings
from gdpr.requests import Draft, RequestRepository, StorageUnavailable
from storage.schema import email_verifications

logger = logging.getLogger(__name__)

CODE_DIGITS = 6
CODE_VALIDITY = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_SENDS_PER_HOUR = 3

# Outcomes of send_code() and check_code().
SENT, RATE_LIMITED, SEND_FAILED, ADDRESS_REFUSED = "sent", "rate_limited", "send_failed", "address_refused"
VERIFIED, WRONG, EXHAUSTED, EXPIRED, NO_CODE = "verified", "wrong", "exhausted", "expired", "no_code"


@dataclass(frozen=True)
class SendResult:
    outcome: str
    retry_after: Optional[dt.datetime] = None  # RATE_LIMITED: when a new code may be asked for


@dataclass(frozen=True)
class CheckResult:
    outcome: str
    attempts_left: int = 0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back: they were stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _key() -> bytes:
    configured = settings.email_code_key()
    if configured:
        return configured.encode()
    path = settings.VAR_DIR / "email-code-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            pass  # another process created it meanwhile
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def code_hash(code: str) -> str:
    return hmac.new(_key(), code.encode(), hashlib.sha256).hexdigest()


def normalise_code(text: str) -> Optional[str]:
    """The 6 digits of a typed code (« 482 913 », « 482-913 » accepted), or None."""
    digits = "".join(ch for ch in str(text or "") if ch.isdigit())
    stripped = "".join(ch for ch in str(text or "") if not ch.isspace() and ch not in "-.")
    if len(digits) == CODE_DIGITS and stripped == digits:
        return digits
    return None


def verification_code_email(code: str) -> tuple:
    """Subject, plain text and HTML of the e-mail that carries a code (nothing else personal)."""
    from mail.compose import html_page

    minutes = int(CODE_VALIDITY.total_seconds() // 60)
    subject = f"Votre code de vérification : {code}"
    paragraphs = [
        "Bonjour,",
        f"Pour confirmer votre adresse e-mail auprès de l'assistant « Mes données de santé », saisissez ce code "
        f"dans la conversation : {code}",
        f"Il est valable {minutes} minutes et ne peut servir qu'une fois. Votre demande ne sera enregistrée "
        "qu'après la saisie de ce code.",
        "Si vous n'avez rien demandé, ignorez ce message : sans ce code, aucune demande n'est enregistrée à "
        "votre nom avec cette adresse.",
        "Ne communiquez ce code à personne. Ce message est envoyé automatiquement.",
    ]
    return subject, "\n\n".join(paragraphs) + "\n", html_page(subject, paragraphs)


def _address(email: str) -> str:
    return email.strip().casefold()


class EmailVerification:
    """The codes of one application database (the same as the requests')."""

    def __init__(self, repo: RequestRepository):
        self.repo = repo

    def _live_code(self, connection, draft: Draft):
        row = connection.execute(
            sa.select(email_verifications)
            .where(
                (email_verifications.c.submission_key == draft.submission_key)
                & (email_verifications.c.email == _address(draft.answers.get("email", "")))
                & email_verifications.c.verified_at.is_(None)
            )
            .order_by(email_verifications.c.id.desc())
            .limit(1)
        ).first()
        return row

    def has_live_code(self, draft: Draft, now: Optional[dt.datetime] = None) -> bool:
        """A code was sent for this draft and address, and can still be typed."""
        now = now or _now()
        try:
            with self.repo.engine.connect() as connection:
                row = self._live_code(connection, draft)
        except SQLAlchemyError as error:
            raise StorageUnavailable("could not read the verification") from error
        return row is not None and _aware(row.expires_at) > now and row.attempts < MAX_ATTEMPTS

    def was_sent(self, draft: Draft) -> bool:
        """Whether a code was ever sent for this draft and its current address."""
        try:
            with self.repo.engine.connect() as connection:
                return self._live_code(connection, draft) is not None or verified_in(
                    connection, draft.submission_key, draft.answers.get("email", "")
                )
        except SQLAlchemyError as error:
            raise StorageUnavailable("could not read the verification") from error

    def is_verified(self, draft: Draft) -> bool:
        try:
            with self.repo.engine.connect() as connection:
                return verified_in(connection, draft.submission_key, draft.answers.get("email", ""))
        except SQLAlchemyError as error:
            raise StorageUnavailable("could not read the verification") from error

    def send_code(self, draft: Draft, now: Optional[dt.datetime] = None) -> SendResult:
        """Send a new code to the draft's address, within the sending limits."""
        from mail.compose import compose
        from mail.transport import PermanentFailure, TemporaryFailure, send

        now = now or _now()
        address = _address(draft.answers.get("email", ""))
        if not address:
            raise ValueError("the draft has no e-mail address")
        since = now - dt.timedelta(hours=1)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        try:
            with self.repo.engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    # Two clicks at once must not both pass the limit.
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:a))"), {"a": address})
                recent = connection.execute(
                    sa.select(email_verifications.c.sent_at)
                    .where(
                        (email_verifications.c.sent_at > since)
                        & (
                            (email_verifications.c.email == address)
                            | (email_verifications.c.sender_id == draft.sender_id)
                        )
                    )
                    .order_by(email_verifications.c.sent_at)
                ).all()
                if len(recent) >= MAX_SENDS_PER_HOUR:
                    return SendResult(RATE_LIMITED, retry_after=_aware(recent[0].sent_at) + dt.timedelta(hours=1))
                # A new code replaces the previous ones of this draft.
                connection.execute(
                    email_verifications.update()
                    .where(
                        (email_verifications.c.submission_key == draft.submission_key)
                        & email_verifications.c.verified_at.is_(None)
                    )
                    .values(expires_at=now)
                )
                inserted = connection.execute(
                    email_verifications.insert().values(
                        sender_id=draft.sender_id,
                        submission_key=draft.submission_key,
                        email=address,
                        code_hash=code_hash(code),
                        sent_at=now,
                        expires_at=now + CODE_VALIDITY,
                        attempts=0,
                    )
                )
                row_id = inserted.inserted_primary_key[0]
        except SQLAlchemyError as error:
            raise StorageUnavailable("could not store the verification") from error
        subject, text, html = verification_code_email(code)
        try:
            send(compose(draft.answers["email"], subject, text, html))
        except (TemporaryFailure, PermanentFailure) as failure:
            # Not sent: it does not count against the limit, and cannot be typed.
            with self.repo.engine.begin() as connection:
                connection.execute(email_verifications.delete().where(email_verifications.c.id == row_id))
            logger.warning("verification code not sent: %s", failure)
            return SendResult(ADDRESS_REFUSED if isinstance(failure, PermanentFailure) else SEND_FAILED)
        logger.info("verification code sent")
        return SendResult(SENT)

    def check_code(self, draft: Draft, typed: str, now: Optional[dt.datetime] = None) -> CheckResult:
        """Compare a typed code with the live one; one attempt is used whatever the result."""
        now = now or _now()
        try:
            with self.repo.engine.begin() as connection:
                row = self._live_code(connection, draft)
                if row is None:
                    return CheckResult(NO_CODE)
                if _aware(row.expires_at) <= now:
                    return CheckResult(EXPIRED)
                if row.attempts >= MAX_ATTEMPTS:
                    return CheckResult(EXHAUSTED)
                # Count the attempt first, conditionally: concurrent guesses cannot exceed the limit.
                counted = connection.execute(
                    email_verifications.update()
                    .where(
                        (email_verifications.c.id == row.id)
                        & (email_verifications.c.attempts < MAX_ATTEMPTS)
                        & email_verifications.c.verified_at.is_(None)
                    )
                    .values(attempts=email_verifications.c.attempts + 1)
                )
                if counted.rowcount != 1:
                    return CheckResult(EXHAUSTED)
                attempts_left = MAX_ATTEMPTS - row.attempts - 1
                code = normalise_code(typed) or ""
                if not hmac.compare_digest(code_hash(code), row.code_hash):
                    return CheckResult(WRONG if attempts_left else EXHAUSTED, attempts_left)
                connection.execute(
                    email_verifications.update().where(email_verifications.c.id == row.id).values(verified_at=now)
                )
        except SQLAlchemyError as error:
            raise StorageUnavailable("could not check the code") from error
        return CheckResult(VERIFIED, attempts_left)

    def purge(self, older_than: dt.datetime) -> int:
        """Delete verifications sent before `older_than` (with abandoned drafts); returns how many."""
        with self.repo.engine.begin() as connection:
            return connection.execute(
                email_verifications.delete().where(email_verifications.c.sent_at < older_than)
            ).rowcount


def verified_in(connection, submission_key: str, email: str) -> bool:
    """Whether this draft's current address was proven (used by the submission's transaction)."""
    return (
        connection.execute(
            sa.select(email_verifications.c.id)
            .where(
                (email_verifications.c.submission_key == submission_key)
                & (email_verifications.c.email == _address(email))
                & email_verifications.c.verified_at.is_not(None)
            )
            .limit(1)
        ).first()
        is not None
    )
