"""Conversation logs: the filtered list, one transcript with its review form, the NLU export
of corrected messages. Every read goes through conversations.log.ConversationLog."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, url_for

from console.reviews import TAGS, ReviewError, add_review, corrections_as_nlu_yaml, labels, reviews_of
from conversations.log import ConversationFilters, ConversationLog
from training.nlu_data import RETRIEVAL_INTENT

blueprint = Blueprint("conversations", __name__)
PAGE_SIZE = 50


def conversation_log() -> ConversationLog:
    return ConversationLog(current_app.config["TRACKER_STORE_URL"])


@blueprint.get("/conversations")
def conversations():
    """List with filters as URL parameters and keyset pagination (by last activity)."""
    page = conversation_log().list(ConversationFilters.from_args(request.args), PAGE_SIZE)
    return render_template("console/conversations.html", rows=page.rows, cursor=page.cursor, args=request.args)


@blueprint.route("/conversations/<path:sender_id>", methods=["GET", "POST"])
def transcript(sender_id: str):
    events = conversation_log().events(sender_id)
    if not events:
        abort(404)
    error = None
    if request.method == "POST":
        event_id = request.form.get("evenement", type=int)
        texts = {row_id: event.get("text") for row_id, event in events}
        try:
            if event_id is not None and event_id not in texts:
                raise ReviewError("Message introuvable dans cette conversation.")
            add_review(
                current_app.config["REPOSITORY"],
                sender_id,
                g.operator,
                request.form.get("etiquette"),
                request.form.get("note"),
                request.form.get("correction"),
                event_id,
                texts.get(event_id),
            )
            return redirect(url_for("console.conversations.transcript", sender_id=sender_id))
        except ReviewError as problem:
            error = str(problem)
    return render_template(
        "console/transcript.html",
        sender_id=sender_id,
        turns=conversation_log().transcript(sender_id),
        tags=TAGS,
        labels=labels(),
        retrieval_intent=RETRIEVAL_INTENT,
        reviews=reviews_of(current_app.config["REPOSITORY"], sender_id),
        error=error,
    ), (400 if error else 200)


@blueprint.get("/corrections.yml")
def corrections_export():
    return Response(
        corrections_as_nlu_yaml(current_app.config["REPOSITORY"]),
        mimetype="application/x-yaml; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=corrections-nlu.yml"},
    )
