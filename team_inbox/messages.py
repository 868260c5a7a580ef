"""Messages to the data-protection team: recorded from the chat once the citizen's address is
proven (gdpr.verification), in the application database, with a reference (MSG-2026-000123).

The question is stored masked (no NIR, e-mail, phone, names, postal addresses or health
details: privacy.masking with free text), as the conversation log keeps it: the team answers
a question, it does not need a diagnosis. The acknowledgement e-mail is queued in the same
transaction as the message (mail.outbox). The console's side (assignment, answer, closing,
spam, statistics) is in team_inbox.processing.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from gdpr.requests import CONTACT_DRAFT_KIND, NoDraft, NotVerified, RequestRepository, StorageUnavailable
from storage.schema import request_drafts, team_message_events, team_messages

CONTACT_KIND = CONTACT_DRAFT_KIND  # the draft kind of a message in progress (request_drafts.kind)
STATUS_NEW, STATUS_ASSIGNED, STATUS_ANSWERED, STATUS_CLOSED, STATUS_SPAM = (
    "nouveau",
    "attribué",
    "répondu",
    "clos",
    "indésirable",
)
STATUSES = (STATUS_NEW, STATUS_ASSIGNED, STATUS_ANSWERED, STATUS_CLOSED, STATUS_SPAM)
OPEN_STATUSES = (STATUS_NEW, STATUS_ASSIGNED)
MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True)
class TeamMessage:
    id: int
    reference: str
    sender_id: str
    question: str
    email: str
    status: str
    assigned_to: Optional[str]
    answer: Optional[str]
    answered_by: Optional[str]
    answered_at: Optional[dt.datetime]
    created_at: dt.datetime
    updated_at: dt.datetime


def _aware(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


def to_message(row) -> TeamMessage:
    values = {k: row[k] for k in TeamMessage.__dataclass_fields__}
    for name in ("answered_at", "created_at", "updated_at"):
        values[name] = _aware(values[name])
    return TeamMessage(**values)


def format_reference(year: int, number: int) -> str:
    return f"MSG-{year}-{number:06d}"


def mask_question(text: str) -> str:
    """The question as stored and shown to operators: personal data masked."""
    from privacy.masking import mask_text

    return mask_text(text, free_text=True)


class TeamInbox:
    """The messages of one application database (the requests' one)."""

    def __init__(self, repo: Optional[RequestRepository] = None):
        self.repo = repo or RequestRepository()

    @property
    def engine(self):
        return self.repo.engine

    def submit(self, sender_id: str, now: Optional[dt.datetime] = None) -> TeamMessage:
        """Turn the conversation's verified contact draft into a message; idempotent per draft."""
        now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
        draft = self.repo.get_draft(sender_id)
        if draft is None or draft.kind != CONTACT_KIND:
            raise NoDraft(sender_id)
        try:
            return self._submit(sender_id, now)
        except IntegrityError as error:
            existing = self._find(team_messages.c.submission_key == draft.submission_key)
            if existing:
                return existing
            raise StorageUnavailable("conflicting submission") from error
        except SQLAlchemyError as error:
            raise StorageUnavailable("could not store the message") from error

    def _submit(self, sender_id: str, now: dt.datetime) -> TeamMessage:
        from gdpr.verification import verified_in
        from mail.outbox import queue_notice
        from team_inbox.notices import acknowledgement, acknowledgement_key

        with self.engine.begin() as connection:
            query = sa.select(request_drafts).where(request_drafts.c.sender_id == sender_id)
            if connection.dialect.name == "postgresql":
                query = query.with_for_update()
            row = connection.execute(query).mappings().first()
            if row is None or row["kind"] != CONTACT_KIND:
                raise NoDraft(sender_id)
            answers = json.loads(row["answers"])
            if not answers.get("contact_question") or not answers.get("email") or not answers.get("contact_consent"):
                raise NoDraft("incomplete contact draft")
            if not verified_in(connection, row["submission_key"], answers["email"]):
                raise NotVerified(sender_id)
            inserted = connection.execute(
                team_messages.insert().values(
                    reference=f"PENDING-{uuid.uuid4().hex[:12]}",
                    sender_id=sender_id,
                    submission_key=row["submission_key"],
                    question=mask_question(answers["contact_question"])[:MAX_QUESTION_CHARS],
                    email=answers["email"],
                    status=STATUS_NEW,
                    created_at=now,
                    updated_at=now,
                )
            )
            message_id = inserted.inserted_primary_key[0]
            reference = format_reference(now.year, message_id)
            connection.execute(
                team_messages.update().where(team_messages.c.id == message_id).values(reference=reference)
            )
            connection.execute(
                team_message_events.insert().values(
                    message_id=message_id, action="reçu", operator="assistant", created_at=now
                )
            )
            connection.execute(request_drafts.delete().where(request_drafts.c.sender_id == sender_id))
            message = to_message(
                connection.execute(sa.select(team_messages).where(team_messages.c.id == message_id)).mappings().one()
            )
            queue_notice(
                connection,
                acknowledgement(message),
                key=acknowledgement_key(message),
                purpose="contact_acknowledgement",
                recipient=message.email,
                team_message_id=message_id,
                now=now,
            )
        return message

    def acknowledgement_email(self, message: TeamMessage) -> Optional[Dict[str, Any]]:
        """The outbox row (id, status) of a message's acknowledgement, if any."""
        from mail.outbox import email_by_key
        from team_inbox.notices import acknowledgement_key

        return email_by_key(self.repo.url, acknowledgement_key(message))

    # Reading ------------------------------------------------------------------
    def _find(self, condition) -> Optional[TeamMessage]:
        try:
            with self.engine.connect() as connection:
                row = connection.execute(sa.select(team_messages).where(condition)).mappings().first()
        except SQLAlchemyError as error:
            raise StorageUnavailable("could not read the message") from error
        return to_message(row) if row is not None else None

    def get(self, reference: str) -> Optional[TeamMessage]:
        return self._find(team_messages.c.reference == reference.strip().upper())

    def list(self, status: Optional[str] = None, limit: int = 500) -> List[TeamMessage]:
        """Messages, oldest first among the open ones (the queue), else newest first."""
        query = sa.select(team_messages)
        if status in STATUSES:
            query = query.where(team_messages.c.status == status)
        if status in OPEN_STATUSES or status is None:
            query = query.order_by(team_messages.c.created_at, team_messages.c.id)
        else:
            query = query.order_by(team_messages.c.created_at.desc(), team_messages.c.id.desc())
        with self.engine.connect() as connection:
            return [to_message(r) for r in connection.execute(query.limit(limit)).mappings()]

    def history(self, reference: str) -> List[Dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(team_message_events)
                .join(team_messages, team_messages.c.id == team_message_events.c.message_id)
                .where(team_messages.c.reference == reference)
                .order_by(team_message_events.c.id)
            ).mappings()
            return [dict(r, created_at=_aware(r["created_at"])) for r in rows]

    def count_for_sender(self, sender_id: str) -> int:
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(sa.func.count()).select_from(team_messages).where(team_messages.c.sender_id == sender_id)
            ).scalar_one()
