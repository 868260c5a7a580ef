"""The console's side of the messages to the team: assignment, answer, closing, spam, the answer
due date, statistics, a draft fact from an answered message, and the reusable answer templates.

Every change is one transaction: the message row, its history row (team_message_events: action,
detail, operator, time) and, when the citizen is told something, the e-mail (mail.outbox, with
team_message_id) are written together or not at all. The functions return the ids of the
e-mails queued, so the console can try to send them at once (gdpr.processing.deliver_now); the
sender process (python -m mail.sender) retries whatever that attempt did not send.

Errors meant for the operator are InboxError, in French.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import sqlalchemy as sa
import yaml

from gdpr import deadlines
from gdpr.deadlines import PARIS, is_working_day, paris_date
from storage.schema import operators, team_message_events, team_messages
from team_inbox.messages import (
    OPEN_STATUSES,
    STATUS_ANSWERED,
    STATUS_ASSIGNED,
    STATUS_CLOSED,
    STATUS_NEW,
    STATUS_SPAM,
    TeamInbox,
    TeamMessage,
    to_message,
)
from team_inbox.notices import answer_days

MAX_ANSWER_CHARS = 5000
STATS_WEEKS = 8
MEDIAN_WINDOW_DAYS = 90
TEMPLATES_FILE = Path(__file__).with_name("answer_templates.yml")

# team_message_events.action (the chat records « reçu »).
ACTION_RECEIVED, ACTION_ASSIGNED, ACTION_ANSWERED, ACTION_CLOSED, ACTION_SPAM = (
    "reçu",
    "attribué",
    "répondu",
    "clos",
    "indésirable",
)
ACTION_LABELS = {
    ACTION_RECEIVED: "Message reçu",
    ACTION_ASSIGNED: "Attribution",
    ACTION_ANSWERED: "Réponse envoyée",
    ACTION_CLOSED: "Clôture",
    ACTION_SPAM: "Marqué indésirable",
}
# outgoing_emails.purpose, as the console names it.
PURPOSE_ANSWER = "contact_answer"
PURPOSE_LABELS = {
    "contact_acknowledgement": "Accusé de réception",
    PURPOSE_ANSWER: "Réponse de l'équipe",
}
ASSIGNABLE = (STATUS_NEW, STATUS_ASSIGNED)
ANSWERABLE = (STATUS_NEW, STATUS_ASSIGNED, STATUS_ANSWERED)  # a second answer is a new e-mail
CLOSABLE = (STATUS_NEW, STATUS_ASSIGNED, STATUS_ANSWERED)
SPAMMABLE = (STATUS_NEW, STATUS_ASSIGNED)
INBOX_ENDPOINT = "console.team_messages.message_detail"  # whose roles may be given a message


class InboxError(ValueError):
    """A change the console cannot make; the message is for the operator (French)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _short(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


# --- One change, one transaction ---------------------------------------------------------
def _locked(connection: Any, reference: str) -> TeamMessage:
    reference = (reference or "").strip().upper()
    query = sa.select(team_messages).where(team_messages.c.reference == reference)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()  # a concurrent change waits, then sees this one
    row = connection.execute(query).mappings().first()
    if row is None:
        raise InboxError("Message introuvable.")
    return to_message(row)


def _update(connection: Any, message: TeamMessage, values: Dict[str, Any]) -> None:
    """Write `values` if the message still has the status just read (SQLite has no row lock)."""
    updated = connection.execute(
        team_messages.update()
        .where((team_messages.c.id == message.id) & (team_messages.c.status == message.status))
        .values(**values)
    )
    if updated.rowcount != 1:
        raise InboxError("Le message a été modifié entre-temps : rechargez la page, puis recommencez.")


def _event(
    connection: Any, message: TeamMessage, action: str, detail: Optional[str], operator: str, now: dt.datetime
) -> int:
    result = connection.execute(
        team_message_events.insert().values(
            message_id=message.id, action=action, detail=detail, operator=operator, created_at=now
        )
    )
    return result.inserted_primary_key[0]


def _refusal(message: TeamMessage, what: str) -> InboxError:
    return InboxError(f"Ce message est « {message.status} » : {what}")


def _inbox_roles():
    """The roles that open the inbox (console/permissions.py): only they can be given a message."""
    from console.permissions import roles_allowed

    return sorted(roles_allowed(INBOX_ENDPOINT))


def _operator_role(connection: Any, username: str) -> Optional[str]:
    return connection.execute(sa.select(operators.c.role).where(operators.c.username == username)).scalar()


def assign(inbox: TeamInbox, reference: str, to_operator: str, operator: str) -> List[int]:
    """Give the message to an operator (« nouveau » → « attribué »), or to another one. No e-mail:
    returns []. Assigning it again to the same operator changes nothing."""
    to_operator = (to_operator or "").strip()
    if not to_operator:
        raise InboxError("Choisissez la personne à qui attribuer le message.")
    now = _now()
    with inbox.engine.begin() as connection:
        message = _locked(connection, reference)
        if message.status not in ASSIGNABLE:
            raise _refusal(message, "il ne peut plus être attribué.")
        role = _operator_role(connection, to_operator)
        if role is None:
            raise InboxError(f"Aucun compte opérateur ne s'appelle « {to_operator[:100]} ».")
        if role not in _inbox_roles():
            raise InboxError(
                f"Le compte « {to_operator[:100]} » a le rôle {role} : il ne peut pas ouvrir les messages "
                f"(rôle nécessaire : {', '.join(_inbox_roles())})."
            )
        if message.status == STATUS_ASSIGNED and message.assigned_to == to_operator:
            return []
        _update(connection, message, {"status": STATUS_ASSIGNED, "assigned_to": to_operator, "updated_at": now})
        detail = f"{message.assigned_to} → {to_operator}" if message.assigned_to else to_operator
        _event(connection, message, ACTION_ASSIGNED, detail, operator, now)
    return []


def clean_answer(text: Optional[str]) -> str:
    """The answer as it will be sent: line breaks normalised, surrounding blanks removed."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def answer(inbox: TeamInbox, reference: str, text: Optional[str], operator: str) -> List[int]:
    """Record the team's answer (status « répondu ») and queue the e-mail that carries it to the
    citizen. A message already answered may be answered again: a second e-mail, recorded too.
    Returns the id of the e-mail queued."""
    from mail import outbox
    from team_inbox.notices import answer_key, answer_notice

    text = clean_answer(text)
    if not text:
        raise InboxError("Écrivez la réponse avant de l'envoyer : elle ne peut pas être vide.")
    if len(text) > MAX_ANSWER_CHARS:
        raise InboxError(
            f"La réponse est trop longue ({len(text)} caractères, {MAX_ANSWER_CHARS} au plus) : raccourcissez-la."
        )
    now = _now()
    with inbox.engine.begin() as connection:
        message = _locked(connection, reference)
        if message.status not in ANSWERABLE:
            raise _refusal(message, "il ne peut plus recevoir de réponse.")
        values = {
            "status": STATUS_ANSWERED,
            "answer": text,
            "answered_by": operator,
            "answered_at": now,
            "assigned_to": message.assigned_to or operator,
            "updated_at": now,
        }
        _update(connection, message, values)
        event_id = _event(connection, message, ACTION_ANSWERED, text, operator, now)
        answered = dataclasses.replace(message, **values)
        queued = outbox.queue_notice(
            connection,
            answer_notice(answered),
            key=answer_key(answered, event_id),
            purpose=PURPOSE_ANSWER,
            recipient=answered.email,
            team_message_id=message.id,
            now=now,
        )
    return [queued]


def close(inbox: TeamInbox, reference: str, operator: str) -> List[int]:
    """Close the message (answered, or needing no answer). No e-mail: returns []."""
    now = _now()
    with inbox.engine.begin() as connection:
        message = _locked(connection, reference)
        if message.status not in CLOSABLE:
            raise _refusal(message, "il ne peut pas être clos.")
        _update(connection, message, {"status": STATUS_CLOSED, "updated_at": now})
        _event(connection, message, ACTION_CLOSED, None, operator, now)
    return []


def mark_spam(inbox: TeamInbox, reference: str, operator: str) -> List[int]:
    """Mark an unanswered message as unwanted (« indésirable »). Nothing is sent: returns []."""
    now = _now()
    with inbox.engine.begin() as connection:
        message = _locked(connection, reference)
        if message.status not in SPAMMABLE:
            raise _refusal(message, "seul un message sans réponse peut être marqué indésirable.")
        _update(connection, message, {"status": STATUS_SPAM, "updated_at": now})
        _event(connection, message, ACTION_SPAM, None, operator, now)
    return []


def refusals(message: TeamMessage) -> Dict[str, Optional[str]]:
    """For the message page: why each action is not offered (None when it is)."""
    return {
        "assign": None if message.status in ASSIGNABLE else "déjà traité",
        "answer": None if message.status in ANSWERABLE else "message clos ou indésirable",
        "close": None if message.status in CLOSABLE else "déjà clos ou indésirable",
        "spam": None if message.status in SPAMMABLE else "seul un message sans réponse peut l'être",
    }


def operator_names(inbox: TeamInbox) -> List[str]:
    """The console accounts a message can be assigned to: those whose role opens the inbox."""
    with inbox.engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(operators.c.username)
                .where(operators.c.role.in_(_inbox_roles()))
                .order_by(operators.c.username)
            ).scalars()
        )


# --- Answer due date ---------------------------------------------------------------------
def add_working_days(start: dt.date, days: int) -> dt.date:
    """The day `days` working days after `start` (Saturdays, Sundays and public holidays skipped)."""
    day = start
    remaining = days
    while remaining > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


def answer_due(message: TeamMessage) -> dt.date:
    """The answer announced to the citizen: CONTACT_ANSWER_DAYS working days after the day the
    message was received (Europe/Paris)."""
    return add_working_days(paris_date(message.created_at), answer_days())


def is_overdue(message: TeamMessage, today: Optional[dt.date] = None) -> bool:
    """An open message (« nouveau » or « attribué ») whose announced answer day has passed."""
    return message.status in OPEN_STATUSES and (today or deadlines.today()) > answer_due(message)


# --- Statistics --------------------------------------------------------------------------
def _paris_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=PARIS).astimezone(dt.timezone.utc)


def _bound(connection: Any, moment: dt.datetime) -> dt.datetime:
    """A UTC moment as the database compares it (SQLite stores naive UTC)."""
    return moment.replace(tzinfo=None) if connection.dialect.name == "sqlite" else moment


def _aware(moment: Optional[dt.datetime]) -> Optional[dt.datetime]:
    return moment.replace(tzinfo=dt.timezone.utc) if moment is not None and moment.tzinfo is None else moment


def stats(inbox: TeamInbox, today: Optional[dt.date] = None) -> Dict[str, Any]:
    """For the dashboard:
    - per_week: messages received in each of the last STATS_WEEKS ISO weeks (Paris time), oldest
      first, this week included: [{"week": "2026-W05", "monday": date, "count": n}];
    - median_hours: median time from receipt to the first answer, in hours, over the messages first
      answered in the last MEDIAN_WINDOW_DAYS days (None without any), and `answered`, their number;
    - overdue: open messages whose announced answer day has passed; open: open messages."""
    today = today or deadlines.today()
    this_monday = today - dt.timedelta(days=today.weekday())
    mondays = [this_monday - dt.timedelta(weeks=n) for n in range(STATS_WEEKS - 1, -1, -1)]
    counts = {monday: 0 for monday in mondays}
    window_start = _paris_midnight(today - dt.timedelta(days=MEDIAN_WINDOW_DAYS))
    tomorrow = _paris_midnight(today + dt.timedelta(days=1))
    first_answers = (
        sa.select(
            team_message_events.c.message_id.label("message_id"),
            sa.func.min(team_message_events.c.created_at).label("first_answer"),
        )
        .where(team_message_events.c.action == ACTION_ANSWERED)
        .group_by(team_message_events.c.message_id)
        .subquery()
    )
    with inbox.engine.connect() as connection:
        received = connection.execute(
            sa.select(team_messages.c.created_at).where(
                team_messages.c.created_at >= _bound(connection, _paris_midnight(mondays[0])),
                team_messages.c.created_at < _bound(connection, tomorrow),
            )
        ).scalars()
        for created in received:
            monday = paris_date(created) - dt.timedelta(days=paris_date(created).weekday())
            if monday in counts:
                counts[monday] += 1
        answered_rows = connection.execute(
            sa.select(team_messages.c.created_at, team_messages.c.answered_at, first_answers.c.first_answer)
            .select_from(team_messages.outerjoin(first_answers, first_answers.c.message_id == team_messages.c.id))
            .where(
                team_messages.c.answered_at.is_not(None),
                team_messages.c.answered_at >= _bound(connection, window_start),
            )
        ).all()
        open_rows = [
            to_message(row)
            for row in connection.execute(
                sa.select(team_messages).where(team_messages.c.status.in_(OPEN_STATUSES))
            ).mappings()
        ]
    durations = []
    for created, answered_at, first in answered_rows:
        first_answer = _aware(first) or _aware(answered_at)
        if first_answer >= window_start:
            durations.append((first_answer - _aware(created)).total_seconds() / 3600)
    return {
        "per_week": [
            {"week": f"{m.isocalendar()[0]}-W{m.isocalendar()[1]:02d}", "monday": m, "count": counts[m]}
            for m in mondays
        ],
        "median_hours": round(statistics.median(durations), 1) if durations else None,
        "answered": len(durations),
        "overdue": sum(1 for message in open_rows if is_overdue(message, today)),
        "open": len(open_rows),
    }


# --- A draft fact for the catalogue ------------------------------------------------------
def _yaml_value(key: str, value: Any) -> str:
    return yaml.safe_dump({key: value}, allow_unicode=True, sort_keys=False, width=100).rstrip("\n")


def draft_fact_yaml(message: TeamMessage) -> str:
    """A YAML body for facts/catalogue/<id>.yml from an answered message, for a reviewer to
    complete (title, a verified source, verification date, more examples) and copy into the
    catalogue, which stays the single source of truth. The console never writes it anywhere."""
    if not message.answer:
        raise InboxError("Un brouillon de fait se prépare à partir d'un message qui a reçu une réponse.")
    fact_id = message.reference.lower().replace("-", "_")
    answered_on = _short(paris_date(message.answered_at)) if message.answered_at else "?"
    lines = [
        f"# Brouillon de fait tiré du message {message.reference} (réponse du {answered_on}, "
        f"par {message.answered_by or '?'}).",
        "# À relire et compléter, puis à copier dans facts/catalogue/<id>.yml : le catalogue reste la seule",
        "# source de vérité (python -m training.facts le vérifie). Rien n'est publié sans cette relecture.",
        _yaml_value("id", fact_id) + "  # à renommer : minuscules, chiffres et « _ », comme le nom du fichier",
        _yaml_value("title", "") + "  # à compléter : un titre court",
        "# La réponse : 80 mots au plus, chaque sigle développé à sa première mention ; retirez les",
        "# formules de politesse et tout ce qui ne concerne que ce citoyen.",
        _yaml_value("answer", " ".join(message.answer.split())),  # the catalogue joins lines too
        "# à compléter : une source vérifiée est obligatoire",
        "sources: []",
        '#  - title: "Titre de la page"',
        "#    url: https://…",
        "# verified_on: AAAA-MM-JJ  # à compléter : le jour où la source a été vérifiée",
        "related: []",
        "# La question du citoyen (masquée) d'abord ; à compléter : 12 questions différentes au moins.",
        _yaml_value("examples", [message.question]),
    ]
    return "\n".join(lines) + "\n"


# --- Answer templates --------------------------------------------------------------------
@dataclass(frozen=True)
class AnswerTemplate:
    id: str
    title: str
    text: str
    facts: Tuple[str, ...] = ()


def load_answer_templates(path: Path = TEMPLATES_FILE) -> Dict[str, AnswerTemplate]:
    """The reusable answers, by id, in file order; ValueError when the file is malformed."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise ValueError(f"{path}: a list of templates is expected")
    templates: Dict[str, AnswerTemplate] = {}
    for index, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise ValueError(f"{path}: template {index} is not a mapping")
        template_id, title, text = item.get("id"), item.get("title"), item.get("text")
        if not all(isinstance(v, str) and v.strip() for v in (template_id, title, text)):
            raise ValueError(f"{path}: template {index} needs an id, a title and a text")
        if template_id in templates:
            raise ValueError(f"{path}: duplicate template id {template_id!r}")
        if len(text.strip()) > MAX_ANSWER_CHARS:
            raise ValueError(f"{path}: template {template_id!r} is longer than an answer may be")
        facts = item.get("facts") or []
        if not isinstance(facts, list) or not all(isinstance(f, str) for f in facts):
            raise ValueError(f"{path}: template {template_id!r}: facts must be a list of fact ids")
        templates[template_id] = AnswerTemplate(template_id, title.strip(), text.strip(), tuple(facts))
    return templates


ANSWER_TEMPLATES: Dict[str, AnswerTemplate] = load_answer_templates()
