"""Conversation logs: the filtered list, one transcript with its review form, the NLU export
of corrected messages. Every read goes through conversations.log.ConversationLog."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping, Optional, Tuple

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, url_for

from console.reviews import TAGS, ReviewError, add_review, corrections_as_nlu_yaml, labels, reviews_of
from conversations.log import ConversationFilters, ConversationLog
from training.nlu_data import RETRIEVAL_INTENT

logger = logging.getLogger(__name__)
blueprint = Blueprint("conversations", __name__)
PAGE_SIZE = 50
MODEL_ID_KEY = "model_id"  # what Rasa writes in every event's metadata (rasa.shared.core.constants)
CATALOGUE_VERSION_KEY = "catalogue_version"  # what actions.facts adds to a fact answer's metadata


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
        answered_by=answered_by(events, model_names()),
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


def model_names() -> Dict[str, str]:
    """Rasa model id -> the model's file name, for the models released on this machine
    (models/releases/releases.json: in service, previous ones, and every promotion or rollback
    remembered). An unreadable registry names nothing: the console then shows the id."""
    from training.releases import load_registry

    try:
        registry = load_registry()
    except (OSError, ValueError) as error:
        logger.warning("model release registry unreadable (%s)", type(error).__name__)
        return {}
    names: Dict[str, str] = {}
    releases = [*registry.get("history", []), *reversed(registry.get("previous", [])), registry.get("current")]
    for release in releases:
        if isinstance(release, Mapping) and release.get("model_id") and release.get("file"):
            names[str(release["model_id"])] = str(release["file"])
    return names


def answered_by(events: List[Tuple[int, Mapping[str, Any]]], names: Mapping[str, str]) -> Dict[int, Dict[str, str]]:
    """Per stored message (row id): which model understood or answered it, and for a fact answer
    which catalogue version it came from (issue #22). Read from the events' metadata: Rasa puts
    the model's `model_id` in every event it logs, actions.facts the catalogue version."""
    found: Dict[int, Dict[str, str]] = {}
    for row_id, event in events:
        if event.get("event") not in ("user", "bot"):
            continue
        metadata = event.get("metadata") or {}
        origin: Dict[str, str] = {}
        model_id: Optional[str] = metadata.get(MODEL_ID_KEY) if isinstance(metadata, Mapping) else None
        if isinstance(model_id, str) and model_id:
            origin["model_id"] = model_id
            origin["model"] = names.get(model_id) or f"identifiant Rasa {model_id[:12]}"
        version = metadata.get(CATALOGUE_VERSION_KEY) if isinstance(metadata, Mapping) else None
        if isinstance(version, str) and version:
            origin["catalogue"] = version
        if origin:
            found[row_id] = origin
    return found
