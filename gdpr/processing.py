"""The request lifecycle as the data-protection team drives it from the console: transmission
to the controller, extension of the deadline (GDPR art. 12.3), and the queue of requests with
their deadlines. Status changes live in gdpr.requests.change_status.

Every change is one transaction: the request row, its history row (request_status_changes,
with its action) and the e-mail telling the citizen (the outbox, mail.outbox) are written
together or not at all. The functions return the ids of the e-mails queued, so the console
can try to send them at once (deliver_now); the sender process (python -m mail.sender)
retries whatever that attempt did not send.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any, Dict, Iterable, List, Optional

import sqlalchemy as sa

import settings
from gdpr import deadlines
from gdpr.deadlines import EXTENSION_MONTHS, extended_deadline, legal_deadline, paris_date
from gdpr.kinds import CONTROLLERS
from gdpr.requests import (
    CLOSED_STATUSES,
    STATUSES,
    RequestRepository,
    StatusChangeError,
    StoredRequest,
    _stored,
)
from storage.schema import gdpr_requests, request_status_changes

logger = logging.getLogger(__name__)

# How a request reached the controller (stored in gdpr_requests.transmission_channel, 40 characters).
TRANSMISSION_CHANNELS = (
    "courriel",
    "recommandé avec avis de réception",
    "messagerie sécurisée",
    "remise interne au service",
)
# request_status_changes.action
ACTION_STATUS, ACTION_TRANSMISSION, ACTION_EXTENSION = "statut", "transmission", "prolongation"
ACTION_LABELS = {
    ACTION_STATUS: "Changement de statut",
    ACTION_TRANSMISSION: "Transmission au responsable",
    ACTION_EXTENSION: "Prolongation du délai",
}
# outgoing_emails.purpose, as the console names it.
PURPOSE_LABELS = {
    "acknowledgement": "Accusé de réception",
    "ack": "Accusé de réception",
    "transmission": "Transmission au responsable",
    "status": "Changement de statut",
    "extension": "Prolongation du délai",
    "verification": "Code de vérification",
    "email_code": "Code de vérification",
}
MAX_REASON_CHARS = 2000
MAX_ORGANISATION_CHARS = 200  # gdpr_requests.transmitted_to


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _locked_request(connection: Any, reference: str) -> StoredRequest:
    query = sa.select(gdpr_requests).where(gdpr_requests.c.reference == reference)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()  # a concurrent change waits, then sees this one
    row = connection.execute(query).mappings().first()
    if row is None:
        raise StatusChangeError("Demande introuvable.")
    return _stored(row)


def _with(request: StoredRequest, values: Dict[str, Any]) -> StoredRequest:
    fields = {f.name for f in dataclasses.fields(StoredRequest)}
    return dataclasses.replace(request, **{k: v for k, v in values.items() if k in fields})


def _queue(connection: Any, request: StoredRequest, key: str, purpose: str, notice: Any, now: dt.datetime) -> int:
    from mail import outbox

    return outbox.queue_notice(
        connection, notice, key=key, purpose=purpose, recipient=request.email, request_id=request.id, now=now
    )


def _history(connection: Any, request: StoredRequest, action: str, reason: str, operator: str, now: dt.datetime) -> int:
    result = connection.execute(
        request_status_changes.insert().values(
            request_id=request.id,
            old_status=request.status,
            new_status=request.status,
            reason=reason,
            changed_by=operator,
            changed_at=now,
            action=action,
        )
    )
    return result.inserted_primary_key[0]


def _short(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


# --- Transmission to the controller ------------------------------------------------------
def transmission_refusal(request: StoredRequest) -> Optional[str]:
    """Why the transmission cannot be recorded (None when it can)."""
    if request.status in CLOSED_STATUSES:
        return (
            f"Cette demande est close (statut « {request.status} ») : sa transmission au responsable ne peut plus "
            "être enregistrée."
        )
    if request.transmitted_on is not None:
        return (
            f"Cette demande a déjà été transmise le {_short(request.transmitted_on)} à {request.transmitted_to} "
            f"({request.transmission_channel}), enregistré par {request.transmitted_by}. Une transmission ne "
            "s'enregistre qu'une fois."
        )
    return None


def record_transmission(
    repo: RequestRepository,
    reference: str,
    *,
    transmitted_on: dt.date,
    transmitted_to: Optional[str],
    channel: str,
    operator: str,
    today: Optional[dt.date] = None,
) -> List[int]:
    """Record that the team transmitted the request to the controller (once only); in
    `transmission` mode the one-month deadline starts that day. Tells the citizen by e-mail.
    Returns the id of the e-mail queued. Raises StatusChangeError (message for the operator)."""
    today = today or deadlines.today()
    if not isinstance(transmitted_on, dt.date):
        raise StatusChangeError("Indiquez la date de la transmission.")
    if transmitted_on > today:
        raise StatusChangeError(
            f"La date de transmission ({_short(transmitted_on)}) est dans le futur : indiquez le jour où la demande "
            "a réellement été transmise."
        )
    channel = (channel or "").strip()
    if channel not in TRANSMISSION_CHANNELS:
        raise StatusChangeError("Choisissez le moyen de transmission dans la liste.")
    now = _now()
    with repo.engine.begin() as connection:
        request = _locked_request(connection, reference)
        refusal = transmission_refusal(request)
        if refusal:
            raise StatusChangeError(refusal)
        received = paris_date(request.received_at)
        if transmitted_on < received:
            raise StatusChangeError(
                f"La date de transmission ({_short(transmitted_on)}) précède l'enregistrement de la demande "
                f"({_short(received)}) : vérifiez-la."
            )
        organisation = " ".join((transmitted_to or "").split()) or request.controller
        if len(organisation) > MAX_ORGANISATION_CHARS:
            raise StatusChangeError(
                f"Le nom de l'organisation est trop long ({MAX_ORGANISATION_CHARS} caractères au plus)."
            )
        values: Dict[str, Any] = {
            "transmitted_on": transmitted_on,
            "transmitted_to": organisation,
            "transmission_channel": channel,
            "transmitted_by": operator,
            "updated_at": now,
        }
        if settings.deadline_starts_on() == "transmission":
            if request.extended_at is None:  # an extension already granted is never undone
                values["deadline"] = values["initial_deadline"] = legal_deadline(transmitted_on)
        elif request.deadline is None:  # recorded before the service received for the controller
            values["deadline"] = values["initial_deadline"] = legal_deadline(received)
        updated = connection.execute(
            gdpr_requests.update()
            .where(
                (gdpr_requests.c.id == request.id)
                & gdpr_requests.c.transmitted_on.is_(None)
                & gdpr_requests.c.status.notin_(CLOSED_STATUSES)
            )
            .values(**values)
        )
        if updated.rowcount != 1:  # SQLite: another change landed between the read and this write
            raise StatusChangeError("La demande a été modifiée entre-temps : rechargez la page, puis recommencez.")
        _history(connection, request, ACTION_TRANSMISSION, f"{organisation} — {channel}", operator, now)
        request = _with(request, values)
        from gdpr.notices import transmission_notice

        queued = _queue(
            connection, request, f"transmission:{request.reference}", "transmission", transmission_notice(request), now
        )
    return [queued]


# --- Extension of the deadline (art. 12.3) -----------------------------------------------
def extension_refusal(request: StoredRequest, today: Optional[dt.date] = None) -> Optional[str]:
    """Why the deadline cannot be extended now (None when it can)."""
    today = today or deadlines.today()
    if request.status in CLOSED_STATUSES:
        return f"Cette demande est close (statut « {request.status} ») : son délai ne peut plus être prolongé."
    if request.deadline is None:
        return (
            "Le délai n'a pas encore commencé à courir : enregistrez d'abord la transmission de la demande au "
            "responsable."
        )
    if request.extended_at is not None:
        return (
            f"Le délai a déjà été prolongé, le {_short(paris_date(request.extended_at))} : l'article 12.3 du RGPD "
            "ne permet qu'une prolongation, de deux mois au plus."
        )
    first_month_end = request.initial_deadline or request.deadline
    if today > first_month_end:
        return (
            f"Le premier mois a pris fin le {_short(first_month_end)} : l'article 12.3 du RGPD impose d'informer "
            "le demandeur de la prolongation, et de ses motifs, dans le mois qui suit la réception de la demande. "
            "Le délai ne peut plus être prolongé."
        )
    return None


def _start(request: StoredRequest) -> dt.date:
    return deadlines.deadline_start(request) or request.transmitted_on or paris_date(request.received_at)


def extend_deadline(
    repo: RequestRepository,
    reference: str,
    *,
    months: int,
    reason: str,
    operator: str,
    today: Optional[dt.date] = None,
) -> List[int]:
    """Extend the deadline by one or two months, once, with its reason, while the first month
    runs (GDPR art. 12.3); tells the citizen by e-mail. Returns the id of the e-mail queued.
    Raises StatusChangeError (message for the operator)."""
    today = today or deadlines.today()
    if months not in EXTENSION_MONTHS:
        raise StatusChangeError("Le délai se prolonge d'un ou de deux mois (article 12.3 du RGPD).")
    reason = (reason or "").strip()
    if not reason:
        raise StatusChangeError(
            "Une prolongation doit être motivée (article 12.3 du RGPD) : indiquez sa raison, qui sera communiquée "
            "au demandeur."
        )
    if len(reason) > MAX_REASON_CHARS:
        raise StatusChangeError(f"Le motif est trop long ({MAX_REASON_CHARS} caractères au plus).")
    now = _now()
    with repo.engine.begin() as connection:
        request = _locked_request(connection, reference)
        refusal = extension_refusal(request, today)
        if refusal:
            raise StatusChangeError(refusal)
        new_deadline = extended_deadline(_start(request), months)
        values = {
            "deadline": new_deadline,
            "initial_deadline": request.initial_deadline or request.deadline,
            "extension_reason": reason,
            "extended_at": now,
            "updated_at": now,
        }
        updated = connection.execute(
            gdpr_requests.update()
            .where(
                (gdpr_requests.c.id == request.id)
                & gdpr_requests.c.extended_at.is_(None)
                & gdpr_requests.c.status.notin_(CLOSED_STATUSES)
            )
            .values(**values)
        )
        if updated.rowcount != 1:
            raise StatusChangeError("La demande a été modifiée entre-temps : rechargez la page, puis recommencez.")
        _history(
            connection,
            request,
            ACTION_EXTENSION,
            f"+{months} mois, nouvelle échéance le {_short(new_deadline)} : {reason}",
            operator,
            now,
        )
        request = _with(request, values)
        from gdpr.notices import extension_notice

        queued = _queue(
            connection, request, f"extension:{request.reference}", "extension", extension_notice(request), now
        )
    return [queued]


# --- Immediate delivery (best effort) ----------------------------------------------------
def deliver_now(database_url: str, outbox_ids: Iterable[int]) -> None:
    """Try to send these e-mails at once; whatever fails is left to the sender's retries."""
    ids = [i for i in outbox_ids if i is not None]
    if not ids:
        return
    try:
        from mail.outbox import deliver_due

        deliver_due(database_url, only_ids=ids)
    except Exception:  # never lose the operator's recorded change over an e-mail
        logger.warning("immediate delivery failed; mail.sender will retry", exc_info=True)


# --- The queue ---------------------------------------------------------------------------
def deadline_badge(row: Any, today: dt.date) -> Dict[str, Any]:
    """How the queue shows a request's deadline: a label, a DSFR badge class, days left."""
    if row["status"] in CLOSED_STATUSES:
        return {"state": "closed", "label": "close", "badge": "", "days": None}
    if row["deadline"] is None:
        return {"state": "to_transmit", "label": "à transmettre", "badge": "fr-badge--info", "days": None}
    days = (row["deadline"] - today).days
    if days < 0:
        return {"state": "overdue", "label": f"en retard de {-days} j", "badge": "fr-badge--error", "days": days}
    label = "dernier jour" if days == 0 else ("1 jour restant" if days == 1 else f"{days} jours restants")
    if days < 5:
        return {"state": "urgent", "label": label, "badge": "fr-badge--error", "days": days}
    if days < 10:
        return {"state": "soon", "label": label, "badge": "fr-badge--warning", "days": days}
    return {"state": "ok", "label": label, "badge": "fr-badge--success", "days": days}


def queue_rows(
    repo: RequestRepository,
    status: Optional[str] = None,
    controller: Optional[str] = None,
    today: Optional[dt.date] = None,
) -> List[Dict[str, Any]]:
    """The requests to process, optionally of one status and one controller: open requests
    whose deadline has not started first (oldest recording first), then open requests by
    deadline, then closed ones. Each row gets `deadline_start` and its `badge`."""
    today = today or deadlines.today()
    closed_last = sa.case((gdpr_requests.c.status.in_(CLOSED_STATUSES), 1), else_=0)
    not_started_first = sa.case((gdpr_requests.c.deadline.is_(None), 0), else_=1)
    query = sa.select(gdpr_requests).order_by(
        closed_last, not_started_first, gdpr_requests.c.deadline, gdpr_requests.c.received_at, gdpr_requests.c.id
    )
    if status in STATUSES:
        query = query.where(gdpr_requests.c.status == status)
    if controller:
        query = query.where(gdpr_requests.c.controller == controller)
    with repo.engine.connect() as connection:
        rows = [dict(r) for r in connection.execute(query).mappings()]
    for row in rows:
        started = row["deadline"] is not None
        row["deadline_start"] = (
            deadlines.deadline_start(row) or row["transmitted_on"] or paris_date(row["received_at"])
            if started
            else None
        )
        row["badge"] = deadline_badge(row, today)
    return rows


def known_controllers(repo: RequestRepository) -> List[str]:
    """Every controller a request names, and the usual ones, for the queue's filter."""
    with repo.engine.connect() as connection:
        stored = set(connection.execute(sa.select(gdpr_requests.c.controller).distinct()).scalars())
    return sorted(stored | set(CONTROLLERS.values()))
