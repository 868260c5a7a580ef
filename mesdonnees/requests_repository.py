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
from typing import Dict, Optional, Set, Tuple

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from mesdonnees import settings
from mesdonnees.database import engine_for, migrate

metadata = sa.MetaData()

gdpr_requests = sa.Table(
    "gdpr_requests", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(20), nullable=False, unique=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("status_reason", sa.Text),
    sa.Column("data_scope", sa.String(30), nullable=False),
    sa.Column("controller", sa.String(200), nullable=False),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("last_name", sa.String(100), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("wrong_data", sa.Text),
    sa.Column("correct_data", sa.Text),
    sa.Column("objection_reason", sa.Text),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deadline", sa.Date, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("submission_key", sa.String(64), nullable=False, unique=True),
    sa.Column("letter_key", sa.String(64), nullable=False),
    sa.Index("ix_gdpr_requests_status_deadline", "status", "deadline"),
)

request_drafts = sa.Table(
    "request_drafts", metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("submission_key", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("answers", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

request_status_changes = sa.Table(
    "request_status_changes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.Integer, sa.ForeignKey("gdpr_requests.id"), nullable=False, index=True),
    sa.Column("old_status", sa.String(20)),
    sa.Column("new_status", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("changed_by", sa.String(100), nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
)

STATUS_RECEIVED = "reçue"
STATUSES = (STATUS_RECEIVED, "en cours", "traitée", "refusée")


COMMON_ANSWERS = ("data_scope", "first_name", "last_name", "email")


@dataclass(frozen=True)
class RequestKind:
    name: str
    label: str  # "demande d'effacement"
    article: str  # "article 17 du RGPD"
    own_answers: Tuple[str, ...] = ()  # answers only this kind needs

    @property
    def required_answers(self) -> Tuple[str, ...]:
        return COMMON_ANSWERS + self.own_answers


KINDS: Dict[str, RequestKind] = {
    "rectification": RequestKind("rectification", "demande de rectification", "article 16 du RGPD",
                                 ("wrong_data", "correct_data")),
    "erasure": RequestKind("erasure", "demande d'effacement", "article 17 du RGPD"),
    "access": RequestKind("access", "demande d'accès", "article 15 du RGPD"),
    "objection": RequestKind("objection", "demande d'opposition", "article 21 du RGPD", ("objection_reason",)),
}

# Who must answer, decided by which data the request is about.
CONTROLLERS = {
    "hdh_project": "Délégué à la protection des données du Health Data Hub (Plateforme des données de santé)",
    "health_insurance": "Délégué à la protection des données de votre caisse d'Assurance maladie",
}
PERSONAL_ANSWERS = ("first_name", "last_name", "email", "wrong_data", "correct_data", "objection_reason")


class StorageUnavailable(RuntimeError):
    """The application database could not be reached or refused the write."""


class NoDraft(LookupError):
    """There is nothing to submit for this conversation."""


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
    deadline: dt.date
    letter_key: str

    @property
    def kind_info(self) -> RequestKind:
        return KINDS[self.kind]


def legal_deadline(received: dt.date) -> dt.date:
    """One month from receipt (GDPR art. 12(3)); 31 January gives the end of February."""
    return received + relativedelta(months=1)


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
        if kind not in KINDS:
            raise ValueError(kind)
        try:
            with self.engine.begin() as connection:
                row = connection.execute(
                    sa.select(request_drafts).where(request_drafts.c.sender_id == sender_id)
                ).mappings().first()
                answers = json.loads(row["answers"]) if row and row["kind"] == kind else {}
                if value is None:
                    answers.pop(slot, None)
                else:
                    answers[slot] = value
                values = {"kind": kind, "answers": json.dumps(answers, ensure_ascii=False), "updated_at": _now()}
                if row is None:
                    connection.execute(
                        request_drafts.insert().values(
                            sender_id=sender_id, submission_key=uuid.uuid4().hex, **values
                        )
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
                row = connection.execute(
                    sa.select(request_drafts).where(request_drafts.c.sender_id == sender_id)
                ).mappings().first()
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
            values.update(str(draft.answers[k]) for k in PERSONAL_ANSWERS if draft.answers.get(k))
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
        with self.engine.begin() as connection:
            query = sa.select(request_drafts).where(request_drafts.c.sender_id == sender_id)
            if connection.dialect.name == "postgresql":
                query = query.with_for_update()
            row = connection.execute(query).mappings().first()
            if row is None:
                raise NoDraft(sender_id)
            answers = json.loads(row["answers"])
            missing = [k for k in KINDS[row["kind"]].required_answers if not answers.get(k)]
            if missing:
                raise NoDraft(f"incomplete draft: {', '.join(missing)}")
            received = now.astimezone(dt.timezone.utc)
            result = connection.execute(
                gdpr_requests.insert().values(
                    reference=f"PENDING-{uuid.uuid4().hex[:12]}",
                    kind=row["kind"],
                    status=STATUS_RECEIVED,
                    data_scope=answers["data_scope"],
                    controller=CONTROLLERS[answers["data_scope"]],
                    first_name=answers["first_name"],
                    last_name=answers["last_name"],
                    email=answers["email"],
                    wrong_data=answers.get("wrong_data"),
                    correct_data=answers.get("correct_data"),
                    objection_reason=answers.get("objection_reason"),
                    received_at=received,
                    deadline=legal_deadline(received.date()),
                    updated_at=received,
                    sender_id=sender_id,
                    submission_key=row["submission_key"],
                    letter_key=secrets.token_urlsafe(24),
                )
            )
            request_id = result.inserted_primary_key[0]
            reference = format_reference(received.year, request_id)
            connection.execute(gdpr_requests.update().where(gdpr_requests.c.id == request_id).values(reference=reference))
            connection.execute(
                request_status_changes.insert().values(
                    request_id=request_id, old_status=None, new_status=STATUS_RECEIVED,
                    changed_by="assistant", changed_at=received,
                )
            )
            connection.execute(request_drafts.delete().where(request_drafts.c.sender_id == sender_id))
        return self.find_by_reference(reference)

    def _find(self, condition) -> Optional[StoredRequest]:
        try:
            with self.engine.connect() as connection:
                row = connection.execute(sa.select(gdpr_requests).where(condition)).mappings().first()
        except SQLAlchemyError as error:
            raise StorageUnavailable("could not read the request") from error
        if row is None:
            return None
        fields = {k: row[k] for k in StoredRequest.__dataclass_fields__}
        return StoredRequest(**fields)

    def find_by_reference(self, reference: str) -> Optional[StoredRequest]:
        return self._find(gdpr_requests.c.reference == reference.strip().upper())

    def find_by_submission_key(self, key: str) -> Optional[StoredRequest]:
        return self._find(gdpr_requests.c.submission_key == key)

    def count(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(gdpr_requests)).scalar_one()


def emails_match(stored: str, given: str) -> bool:
    """Constant-time, case-insensitive comparison of e-mail addresses."""
    return secrets.compare_digest(stored.strip().casefold().encode(), given.strip().casefold().encode())
