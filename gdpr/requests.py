"""GDPR requests started by the assistant, stored durably in the application database.

A request is built up as a *draft* (one per conversation) while the form collects the
answers, so that personal data never has to live in the conversation log, then turned
into a request in one transaction that also deletes the draft. Submitting the same
draft twice returns the request already stored (its submission key is unique).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Set
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

import settings
from gdpr.deadlines import legal_deadline  # one month, moved off weekends and public holidays
from gdpr.kinds import ALL_FIELDS, CONTROLLERS, KINDS, PERSONAL_FIELDS, RequestKind
from storage.database import engine_for, migrate
from storage.schema import gdpr_requests, request_drafts, request_status_changes

PARIS = ZoneInfo("Europe/Paris")
# A message to the team in progress uses a draft too (team_inbox.messages), never a request.
CONTACT_DRAFT_KIND = "contact"
STATUS_RECEIVED = "reçue"
STATUSES = (STATUS_RECEIVED, "en cours", "traitée", "refusée")
CLOSED_STATUSES = ("traitée", "refusée")


class StorageUnavailable(RuntimeError):
    """The application database could not be reached or refused the write."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        from metrics import STORAGE_UNAVAILABLE  # mds_storage_unavailable_total, in every process

        STORAGE_UNAVAILABLE.inc()


class StatusChangeError(ValueError):
    """A status change the console must refuse; the message is for the operator."""


class NoDraft(LookupError):
    """There is nothing to submit for this conversation."""


class NotVerified(PermissionError):
    """The draft's e-mail address has not been proven by its code (gdpr.verification)."""


@dataclass(frozen=True)
class Draft:
    sender_id: str
    kind: str
    answers: Dict[str, str]
    submission_key: str


@dataclass(frozen=True)
class StoredRequest:
    id: int
    reference: str
    kind: str
    status: str
    status_reason: Optional[str]
    data_scope: str
    controller: str
    first_name: str
    last_name: str
    email: str
    wrong_data: Optional[str]
    correct_data: Optional[str]
    objection_reason: Optional[str]
    received_at: dt.datetime
    deadline: Optional[dt.date]  # None while the deadline has not started (gdpr.deadlines)
    letter_key: str
    initial_deadline: Optional[dt.date] = None
    transmitted_on: Optional[dt.date] = None
    transmitted_to: Optional[str] = None
    transmission_channel: Optional[str] = None
    transmitted_by: Optional[str] = None
    extension_reason: Optional[str] = None
    extended_at: Optional[dt.datetime] = None

    @property
    def kind_info(self) -> RequestKind:
        return KINDS[self.kind]

    @property
    def answers(self) -> Dict[str, str]:
        """The citizen's answers, by field name (gdpr.kinds)."""
        return {f: getattr(self, f) for f in self.kind_info.fields if getattr(self, f) is not None}


def _stored(row) -> StoredRequest:
    values = {k: row[k] for k in StoredRequest.__dataclass_fields__}
    if values["received_at"].tzinfo is None:  # SQLite returns naive UTC datetimes
        values["received_at"] = values["received_at"].replace(tzinfo=dt.timezone.utc)
    return StoredRequest(**values)


def format_reference(year: int, number: int) -> str:
    return f"HDH-{year}-{number:06d}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class RequestRepository:
    def __init__(self, url: Optional[str] = None):
        self.url = url or settings.database_url()
        self._ready = False

    @property
    def engine(self):
        if not self._ready:
            try:
                migrate(self.url)
            except SQLAlchemyError as error:
                raise StorageUnavailable("application database unavailable") from error
            self._ready = True
        return engine_for(self.url)

    # Drafts -------------------------------------------------------------------
    def save_answer(self, sender_id: str, kind: str, slot: str, value: Optional[str]) -> None:
        """Record one answer of the form in progress (a new kind starts a new draft)."""
        if kind not in KINDS and kind != CONTACT_DRAFT_KIND:
            raise ValueError(kind)
        try:
            with self.engine.begin() as connection:
                row = (
                    connection.execute(sa.select(request_drafts).where(request_drafts.c.sender_id == sender_id))
                    .mappings()
                    .first()
                )
                answers = json.loads(row["answers"]) if row and row["kind"] == kind else {}
                if value is None:
                    answers.pop(slot, None)
                else:
                    answers[slot] = value
                values = {"kind": kind, "answers": json.dumps(answers, ensure_ascii=False), "updated_at": _now()}
                if row is None:
                    connection.execute(
                        request_drafts.insert().values(sender_id=sender_id, submission_key=uuid.uuid4().hex, **values)
                    )
                else:
                    if row["kind"] != kind:
                        values["submission_key"] = uuid.uuid4().hex
                    connection.execute(
                        request_drafts.update().where(request_drafts.c.sender_id == sender_id).values(**values)
                    )
        except SQLAlchemyError as error:
            raise StorageUnavailable("could not save the answer") from error

    def get_draft(self, sender_id: str) -> Optional[Draft]:
        try:
            with self.engine.connect() as connection:
                row = (
                    connection.execute(sa.select(request_drafts).where(request_drafts.c.sender_id == sender_id))
                    .mappings()
                    .first()
                )
        except SQLAlchemyError as error:
            raise StorageUnavailable("could not read the draft") from error
        if row is None:
            return None
        return Draft(sender_id, row["kind"], json.loads(row["answers"]), row["submission_key"])

    def delete_draft(self, sender_id: str) -> None:
        try:
            with self.engine.begin() as connection:
                connection.execute(request_drafts.delete().where(request_drafts.c.sender_id == sender_id))
        except SQLAlchemyError as error:
            raise StorageUnavailable("could not delete the draft") from error

    def personal_values_for(self, sender_id: str) -> Set[str]:
        """Personal values this conversation gave, so logs can mask them."""
        draft = self.get_draft(sender_id)
        values: Set[str] = set()
        if draft:
            values.update(str(draft.answers[k]) for k in PERSONAL_FIELDS if draft.answers.get(k))
        return values

    # Requests -----------------------------------------------------------------
    def submit(self, sender_id: str, now: Optional[dt.datetime] = None) -> StoredRequest:
        """Turn the conversation's draft into a stored request; idempotent per draft."""
        now = now or _now()
        draft = self.get_draft(sender_id)
        if draft is None:
            raise NoDraft(sender_id)
        try:
            return self._submit(sender_id, now)
        except IntegrityError as error:
            # The same draft was submitted concurrently and the other transaction won.
            existing = self.find_by_submission_key(draft.submission_key)
            if existing:
                return existing
            raise StorageUnavailable("conflicting submission") from error
        except SQLAlchemyError as error:
            raise StorageUnavailable("could not store the request") from error

    def _submit(self, sender_id: str, now: dt.datetime) -> StoredRequest:
        from gdpr.notices import acknowledgement, acknowledgement_key
        from gdpr.verification import verified_in
        from mail.outbox import queue_notice

        with self.engine.begin() as connection:
            query = sa.select(request_drafts).where(request_drafts.c.sender_id == sender_id)
            if connection.dialect.name == "postgresql":
                query = query.with_for_update()
            row = connection.execute(query).mappings().first()
            if row is None:
                raise NoDraft(sender_id)
            if row["kind"] not in KINDS:  # a message to the team in progress, not a request
                raise NoDraft(sender_id)
            answers = json.loads(row["answers"])
            missing = [k for k in KINDS[row["kind"]].fields_for(answers.get("data_scope")) if not answers.get(k)]
            if missing:
                raise NoDraft(f"incomplete draft: {', '.join(missing)}")
            if not verified_in(connection, row["submission_key"], answers["email"]):
                raise NotVerified(sender_id)
            received = now.astimezone(dt.timezone.utc)
            # The deadline runs from the controller's receipt (settings.deadline_starts_on):
            # today only when this service receives for the controller, else from the transmission.
            deadline = (
                legal_deadline(received.astimezone(PARIS).date())
                if settings.deadline_starts_on() == "verification"
                else None
            )
            result = connection.execute(
                gdpr_requests.insert().values(
                    reference=f"PENDING-{uuid.uuid4().hex[:12]}",
                    kind=row["kind"],
                    status=STATUS_RECEIVED,
                    data_scope=answers["data_scope"],
                    controller=CONTROLLERS[answers["data_scope"]],
                    **{
                        f: answers.get(f)
                        for f in ALL_FIELDS
                        if f != "data_scope" and f in KINDS[row["kind"]].fields_for(answers["data_scope"])
                    },
                    received_at=received,
                    deadline=deadline,
                    initial_deadline=deadline,
                    updated_at=received,
                    sender_id=sender_id,
                    submission_key=row["submission_key"],
                    letter_key=secrets.token_urlsafe(24),
                )
            )
            request_id = result.inserted_primary_key[0]
            reference = format_reference(received.year, request_id)
            connection.execute(
                gdpr_requests.update().where(gdpr_requests.c.id == request_id).values(reference=reference)
            )
            connection.execute(
                request_status_changes.insert().values(
                    request_id=request_id,
                    old_status=None,
                    new_status=STATUS_RECEIVED,
                    changed_by="assistant",
                    changed_at=received,
                )
            )
            connection.execute(request_drafts.delete().where(request_drafts.c.sender_id == sender_id))
            stored = _stored(
                connection.execute(sa.select(gdpr_requests).where(gdpr_requests.c.id == request_id)).mappings().first()
            )
            # The acknowledgement is queued in the same transaction: recorded together or not at all.
            queue_notice(
                connection,
                acknowledgement(stored),
                key=acknowledgement_key(stored),
                purpose="acknowledgement",
                recipient=stored.email,
                request_id=request_id,
                now=received,
            )
        return stored

    def acknowledgement_email(self, request: StoredRequest) -> Optional[Dict[str, Any]]:
        """The outbox row of a request's acknowledgement (id, status), if any."""
        from gdpr.notices import acknowledgement_key
        from mail.outbox import email_by_key

        return email_by_key(self.url, acknowledgement_key(request))

    def _find(self, condition) -> Optional[StoredRequest]:
        try:
            with self.engine.connect() as connection:
                row = connection.execute(sa.select(gdpr_requests).where(condition)).mappings().first()
        except SQLAlchemyError as error:
            raise StorageUnavailable("could not read the request") from error
        return _stored(row) if row is not None else None

    def find_by_reference(self, reference: str) -> Optional[StoredRequest]:
        return self._find(gdpr_requests.c.reference == reference.strip().upper())

    def find_by_submission_key(self, key: str) -> Optional[StoredRequest]:
        return self._find(gdpr_requests.c.submission_key == key)

    def list_requests(self, status: Optional[str] = None) -> List[Dict[str, Any]]:
        """Every request by deadline (oldest first), optionally of one status."""
        query = sa.select(gdpr_requests).order_by(gdpr_requests.c.deadline, gdpr_requests.c.id)
        if status in STATUSES:
            query = query.where(gdpr_requests.c.status == status)
        with self.engine.connect() as connection:
            return [dict(r) for r in connection.execute(query).mappings()]

    def purge_drafts(self, older_than: dt.datetime) -> int:
        """Delete abandoned drafts last changed before `older_than`; returns how many."""
        with self.engine.begin() as connection:
            return connection.execute(request_drafts.delete().where(request_drafts.c.updated_at < older_than)).rowcount

    def count_for_sender(self, sender_id: str) -> int:
        """How many requests a conversation recorded."""
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(sa.func.count()).select_from(gdpr_requests).where(gdpr_requests.c.sender_id == sender_id)
            ).scalar_one()

    def count(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(gdpr_requests)).scalar_one()


def emails_match(stored: str, given: str) -> bool:
    """Constant-time, case-insensitive comparison of e-mail addresses."""
    return secrets.compare_digest(stored.strip().casefold().encode(), given.strip().casefold().encode())


# --- Processing by the data-protection team (console) ------------------------------------
def change_status(
    repo: RequestRepository,
    reference: str,
    new_status: str,
    reason: Optional[str],
    operator: str,
    seen_status: Optional[str] = None,
) -> List[int]:
    """Change a request's status, record who did it and queue the e-mail telling the citizen,
    in one transaction (exactly one e-mail per change). Returns the id of the e-mail queued.

    `seen_status` is the status the operator had on screen: if another operator changed it
    in the meantime, nothing is written and the error says who did what, instead of one
    decision silently replacing the other.
    """
    from gdpr.notices import status_notice
    from mail.outbox import queue_notice

    if new_status not in STATUSES:
        raise StatusChangeError("Statut inconnu.")
    reason = (reason or "").strip() or None
    if new_status == "refusée" and not reason:
        raise StatusChangeError("Un refus doit être motivé.")
    now = dt.datetime.now(dt.timezone.utc)
    with repo.engine.begin() as connection:
        query = sa.select(gdpr_requests).where(gdpr_requests.c.reference == reference)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()  # a concurrent change waits, then sees this one
        row = connection.execute(query).mappings().first()
        if row is None:
            raise StatusChangeError("Demande introuvable.")
        if seen_status is not None and row["status"] != seen_status:
            raise StatusChangeError(_changed_meanwhile(connection, row["id"], row["status"]))
        if row["status"] == new_status:
            raise StatusChangeError(
                f"La demande a déjà le statut « {new_status} » : rien n'a été changé, et aucun courriel n'est envoyé."
            )
        updated = connection.execute(
            gdpr_requests.update()
            .where((gdpr_requests.c.id == row["id"]) & (gdpr_requests.c.status == row["status"]))
            .values(status=new_status, status_reason=reason, updated_at=now)
        )
        if updated.rowcount != 1:  # SQLite: another change landed between the read and this write
            raise StatusChangeError(_changed_meanwhile(connection, row["id"], None))
        change = connection.execute(
            request_status_changes.insert().values(
                request_id=row["id"],
                old_status=row["status"],
                new_status=new_status,
                reason=reason,
                changed_by=operator,
                changed_at=now,
                action="statut",
            )
        )
        stored = _stored(dict(row, status=new_status, status_reason=reason))
        queued = queue_notice(
            connection,
            status_notice(stored, new_status, reason),
            key=f"status:{change.inserted_primary_key[0]}",
            purpose="status",
            recipient=stored.email,
            request_id=stored.id,
            now=now,
        )
    return [queued]


def _changed_meanwhile(connection: Any, request_id: int, status: Optional[str]) -> str:
    last = connection.execute(
        sa.select(
            request_status_changes.c.new_status,
            request_status_changes.c.changed_by,
            request_status_changes.c.changed_at,
        )
        .where(
            (request_status_changes.c.request_id == request_id)
            & (request_status_changes.c.action == "statut")  # not a transmission or an extension
        )
        .order_by(request_status_changes.c.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return "La demande a été modifiée entre-temps : rechargez la page avant de changer son statut."
    changed_at = last.changed_at if last.changed_at.tzinfo else last.changed_at.replace(tzinfo=dt.timezone.utc)
    when = changed_at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")  # the operator's clock
    return (
        f"Entre-temps, {last.changed_by} a passé cette demande au statut « {status or last.new_status} » "
        f"({when}). Votre changement n'a pas été enregistré : vérifiez l'historique, puis recommencez si besoin."
    )


def status_history(repo: RequestRepository, reference: str) -> List[dict]:
    with repo.engine.connect() as connection:
        rows = (
            connection.execute(
                sa.select(request_status_changes)
                .join(gdpr_requests, gdpr_requests.c.id == request_status_changes.c.request_id)
                .where(gdpr_requests.c.reference == reference)
                .order_by(request_status_changes.c.id)
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]
