"""The outbox (table outgoing_emails): e-mails are queued in the same transaction as the event
they report, then sent by deliver_due (mail.sender) with retries and backoff.

Logs name a message by id and purpose only: never its address, subject or body.
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

import settings
from mail.compose import compose, new_message_id
from mail.transport import PermanentFailure, TemporaryFailure, send
from storage.database import engine_for
from storage.schema import outgoing_emails

logger = logging.getLogger(__name__)

STATUS_QUEUED = "en attente"
STATUS_SENT = "envoyé"
STATUS_REFUSED = "refusé"
STATUSES = (STATUS_QUEUED, STATUS_SENT, STATUS_REFUSED)

# Delay before the next try after the 1st, 2nd, ... temporary failure; the last one repeats.
BACKOFF_SCHEDULE = (
    dt.timedelta(seconds=30),
    dt.timedelta(minutes=2),
    dt.timedelta(minutes=10),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=1),
)
# A claimed message is left alone by other senders for this long (a sender that died while
# sending: the message is tried again afterwards).
CLAIM_DURATION = dt.timedelta(minutes=5)
_ERROR_LENGTH = outgoing_emails.c.last_error.type.length


def backoff(attempts: int) -> dt.timedelta:
    """Delay before the next try of a message that failed `attempts` times (1 or more)."""
    return BACKOFF_SCHEDULE[min(max(attempts, 1), len(BACKOFF_SCHEDULE)) - 1]


def _utc(moment: dt.datetime | None) -> dt.datetime:
    """An aware UTC datetime (naive ones are taken as UTC): SQLite stores no time zone."""
    if moment is None:
        return dt.datetime.now(dt.timezone.utc)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else _utc(moment)


def queue(
    connection,
    *,
    key: str,
    purpose: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    request_id: int | None = None,
    team_message_id: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Queue one e-mail inside the caller's transaction (`connection` from engine.begin()) and
    return its id. Idempotent: a second call with the same `key` returns the first one's id."""
    by_key = sa.select(outgoing_emails.c.id).where(outgoing_emails.c.idempotency_key == key)
    existing = connection.execute(by_key).scalar_one_or_none()
    if existing is not None:
        return existing
    moment = _utc(now)
    values = {
        "idempotency_key": key,
        "purpose": purpose,
        "request_id": request_id,
        "team_message_id": team_message_id,
        "recipient": recipient,
        "subject": subject,
        "body_text": text,
        "body_html": html,
        "message_id": new_message_id(),
        "status": STATUS_QUEUED,
        "attempts": 0,
        "next_attempt_at": moment,
        "created_at": moment,
    }
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statement = (
            postgresql.insert(outgoing_emails)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(outgoing_emails.c.id)
        )
        inserted = connection.execute(statement).scalar_one_or_none()
        if inserted is not None:
            return inserted
    else:
        if dialect == "sqlite":
            statement = (
                sqlite.insert(outgoing_emails)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
            )
        else:
            statement = sa.insert(outgoing_emails).values(**values)
        result = connection.execute(statement)
        if result.rowcount == 1:
            return result.inserted_primary_key[0]
    # Another transaction queued the same key meanwhile.
    return connection.execute(by_key).scalar_one()


def queue_notice(connection, notice, *, key: str, purpose: str, recipient: str, **owner) -> int:
    """Queue a composed notice (subject, text, html: gdpr.notices, team_inbox.notices) in the
    caller's transaction; `owner` is request_id= or team_message_id=, and now=."""
    return queue(
        connection,
        key=key,
        purpose=purpose,
        recipient=recipient,
        subject=notice.subject,
        text=notice.text,
        html=notice.html,
        **owner,
    )


def email_by_key(database_url: str | None, key: str) -> dict | None:
    """The outbox row (id, status) queued under `key`, if any."""
    engine = engine_for(database_url or settings.database_url())
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(outgoing_emails.c.id, outgoing_emails.c.status).where(outgoing_emails.c.idempotency_key == key)
        ).first()
    return dict(row._mapping) if row else None


def send_now(database_url: str | None, key: str) -> bool:
    """Try to send the e-mail queued under `key` at once; True once it has left. On failure it
    stays queued and the sender process (mail.sender) retries it."""
    queued = email_by_key(database_url, key)
    if queued and queued["status"] != STATUS_SENT:
        deliver_due(database_url, only_ids=[queued["id"]])
        queued = email_by_key(database_url, key)
    return bool(queued and queued["status"] == STATUS_SENT)


def _due(engine, now: dt.datetime, limit: int, only_ids: list[int] | None) -> list[dict]:
    query = (
        sa.select(outgoing_emails)
        .where(outgoing_emails.c.status == STATUS_QUEUED, outgoing_emails.c.next_attempt_at <= now)
        .order_by(outgoing_emails.c.id)
        .limit(limit)
    )
    if only_ids is not None:
        query = query.where(outgoing_emails.c.id.in_(list(only_ids)))
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def _claim(engine, message_id: int, now: dt.datetime) -> bool:
    """Reserve one message for this sender; False if another sender has it (or it is done)."""
    with engine.begin() as connection:
        result = connection.execute(
            sa.update(outgoing_emails)
            .where(
                outgoing_emails.c.id == message_id,
                outgoing_emails.c.status == STATUS_QUEUED,
                outgoing_emails.c.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + CLAIM_DURATION)
        )
        return result.rowcount == 1


def _record(engine, message_id: int, **values) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.update(outgoing_emails)
            .where(outgoing_emails.c.id == message_id)
            .values(attempts=outgoing_emails.c.attempts + 1, **values)
        )


def deliver_due(
    database_url: str | None = None,
    *,
    now: dt.datetime | None = None,
    limit: int = 50,
    only_ids: list[int] | None = None,
    smtp_url: str | None = None,
) -> dict:
    """Send the queued messages that are due, oldest first; returns {"sent", "retry", "refused"}.

    A temporary failure puts the message back with a backoff (BACKOFF_SCHEDULE); a permanent one
    marks it « refusé ». When the server cannot be reached, the batch stops at the first message:
    the others are not counted as tried and keep their order for the next batch. Each message is
    claimed before it is sent, so concurrent senders never send the same message twice."""
    engine = engine_for(database_url or settings.database_url())
    moment = _utc(now)
    outcome = {"sent": 0, "retry": 0, "refused": 0}
    for row in _due(engine, moment, limit, only_ids):
        if not _claim(engine, row["id"], moment):
            continue
        try:
            message = compose(row["recipient"], row["subject"], row["body_text"], row["body_html"], row["message_id"])
        except ValueError:  # an address or subject that no header can carry
            failure: Exception = PermanentFailure("adresse ou objet invalide", 0)
        else:
            try:
                send(message, smtp_url)
                failure = None
            except (TemporaryFailure, PermanentFailure) as error:
                failure = error
            except Exception as error:  # a bug must not stop the other messages
                logger.exception("e-mail %s (%s): unexpected error while sending", row["id"], row["purpose"])
                failure = TemporaryFailure(f"erreur inattendue ({type(error).__name__})")
        if failure is None:
            _record(engine, row["id"], status=STATUS_SENT, sent_at=moment, last_error=None)
            outcome["sent"] += 1
            logger.info("e-mail %s (%s) sent", row["id"], row["purpose"])
        elif isinstance(failure, PermanentFailure):
            _record(engine, row["id"], status=STATUS_REFUSED, last_error=str(failure)[:_ERROR_LENGTH])
            outcome["refused"] += 1
            logger.warning("e-mail %s (%s) refused: %s", row["id"], row["purpose"], failure)
        else:
            attempts = row["attempts"] + 1
            _record(
                engine,
                row["id"],
                next_attempt_at=moment + backoff(attempts),
                last_error=str(failure)[:_ERROR_LENGTH],
            )
            outcome["retry"] += 1
            logger.warning(
                "e-mail %s (%s) not sent (attempt %d), retried in %s: %s",
                row["id"],
                row["purpose"],
                attempts,
                backoff(attempts),
                failure,
            )
            if getattr(failure, "unreachable", False):
                break
    return outcome


def history_for_request(database_url: str | None, request_id: int) -> list[dict]:
    """The e-mails of one request, oldest first (for the console)."""
    return _history(database_url, outgoing_emails.c.request_id == request_id)


def history_for_team_message(database_url: str | None, team_message_id: int) -> list[dict]:
    """The e-mails about one message to the team (acknowledgement, answer), oldest first."""
    return _history(database_url, outgoing_emails.c.team_message_id == team_message_id)


def _history(database_url: str | None, condition) -> list[dict]:
    columns = [
        outgoing_emails.c.id,
        outgoing_emails.c.purpose,
        outgoing_emails.c.subject,
        outgoing_emails.c.status,
        outgoing_emails.c.attempts,
        outgoing_emails.c.created_at,
        outgoing_emails.c.sent_at,
        outgoing_emails.c.last_error,
        outgoing_emails.c.message_id,
        outgoing_emails.c.next_attempt_at,
    ]
    query = sa.select(*columns).where(condition).order_by(outgoing_emails.c.created_at, outgoing_emails.c.id)
    with engine_for(database_url or settings.database_url()).connect() as connection:
        rows = [dict(row) for row in connection.execute(query).mappings()]
    for row in rows:
        for name in ("created_at", "sent_at", "next_attempt_at"):
            row[name] = _aware(row[name])
    return rows


def counts(database_url: str | None = None) -> dict:
    """Number of e-mails by status, every status present (for the console)."""
    query = sa.select(outgoing_emails.c.status, sa.func.count()).group_by(outgoing_emails.c.status)
    with engine_for(database_url or settings.database_url()).connect() as connection:
        found = dict(connection.execute(query).all())
    return {status: int(found.get(status, 0)) for status in STATUSES} | {
        status: int(n) for status, n in found.items() if status not in STATUSES
    }
