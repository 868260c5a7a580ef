"""Messages to the team (« Écrire à l'équipe »): the inbox with its filter, one message's page
with its history, e-mails and masked conversation, and the team's actions on it (assign, answer,
close, mark as spam: team_inbox.processing). An answer queues its e-mail in the same transaction;
the page then tries to send it at once (the sender process retries otherwise)."""

from __future__ import annotations

import logging
from typing import Optional

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from conversations.log import ConversationLog
from gdpr import deadlines
from gdpr.processing import deliver_now
from team_inbox.messages import OPEN_STATUSES, STATUSES, TeamInbox
from team_inbox.processing import (
    ACTION_LABELS,
    ANSWER_TEMPLATES,
    MAX_ANSWER_CHARS,
    PURPOSE_LABELS,
    InboxError,
    answer,
    answer_due,
    assign,
    close,
    draft_fact_yaml,
    is_overdue,
    mark_spam,
    operator_names,
    refusals,
)

logger = logging.getLogger(__name__)
blueprint = Blueprint("team_messages", __name__)
OPEN, ALL = "ouverts", "tous"
MAX_REFERENCE_CHARS = 20  # team_messages.reference
EXCERPT_CHARS = 120


def inbox() -> TeamInbox:
    return TeamInbox(current_app.config["REPOSITORY"])


@blueprint.get("/messages")
def messages():
    chosen = request.args.get("statut") or OPEN
    if chosen not in STATUSES and chosen != ALL:
        chosen = OPEN
    listed = inbox().list(None if chosen in (OPEN, ALL) else chosen)
    if chosen == OPEN:
        listed = [m for m in listed if m.status in OPEN_STATUSES]
    today = deadlines.today()
    rows = [
        {
            "message": m,
            "due": answer_due(m),
            "overdue": is_overdue(m, today),
            "excerpt": m.question[:EXCERPT_CHARS] + ("…" if len(m.question) > EXCERPT_CHARS else ""),
        }
        for m in listed
    ]
    return render_template("console/messages.html", rows=rows, chosen=chosen, statuses=STATUSES, open=OPEN, all=ALL)


def _transcript(sender_id: str):
    """The conversation the message came from, as stored (masked); None when unreadable."""
    log = ConversationLog(current_app.config["TRACKER_STORE_URL"])
    try:
        return log.transcript(sender_id) if log.exists() else []
    except SQLAlchemyError:
        logger.warning("conversation log unreadable for a team message", exc_info=True)
        return None


def _message_page(reference: str, error: Optional[str] = None, form: Optional[str] = None):
    """The message's page; after an error, the form `form` keeps what the operator typed."""
    message = inbox().get(reference) if len(reference) <= MAX_REFERENCE_CHARS else None
    if message is None:
        abort(404)
    from mail.outbox import history_for_team_message

    emails = history_for_team_message(inbox().repo.url, message.id)
    typed = request.form if error else {}
    template = ANSWER_TEMPLATES.get(request.args.get("modele") or "")
    if form == "reponse":
        draft = typed.get("reponse", "")
    elif template is not None:
        draft = template.text
    else:
        draft = ""
    return render_template(
        "console/message.html",
        message=message,
        due=answer_due(message),
        overdue=is_overdue(message, deadlines.today()),
        history=inbox().history(message.reference),
        action_labels=ACTION_LABELS,
        emails=emails,
        purpose_labels=PURPOSE_LABELS,
        refused_emails=[e for e in emails if e["status"] == "refusé"],
        turns=_transcript(message.sender_id),
        operators=operator_names(inbox()),
        chosen_operator=typed.get("a") if form == "attribution" else None,
        templates=ANSWER_TEMPLATES.values(),
        chosen_template=template.id if template else None,
        draft=draft,
        max_answer_chars=MAX_ANSWER_CHARS,
        refusals=refusals(message),
        fact_draft=draft_fact_yaml(message) if message.answer else None,
        error=error,
        error_form=form,
    ), (400 if error else 200)


def _act(reference: str, form: str, action, *args):
    if len(reference) > MAX_REFERENCE_CHARS or inbox().get(reference) is None:
        abort(404)
    try:
        queued = action(inbox(), reference, *args, g.operator)
    except InboxError as problem:
        return _message_page(reference, str(problem), form)
    deliver_now(inbox().repo.url, queued)
    return redirect(url_for("console.team_messages.message_detail", reference=reference.strip().upper()))


@blueprint.get("/messages/<reference>")
def message_detail(reference: str):
    return _message_page(reference)


@blueprint.post("/messages/<reference>/attribution")
def message_assign(reference: str):
    return _act(reference, "attribution", assign, request.form.get("a", ""))


@blueprint.post("/messages/<reference>/reponse")
def message_answer(reference: str):
    return _act(reference, "reponse", answer, request.form.get("reponse", ""))


@blueprint.post("/messages/<reference>/cloture")
def message_close(reference: str):
    return _act(reference, "cloture", close)


@blueprint.post("/messages/<reference>/indesirable")
def message_spam(reference: str):
    return _act(reference, "indesirable", mark_spam)
