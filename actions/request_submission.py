"""Submitting a confirmed request (confirmed only once the database committed it) and
cancelling a request in progress."""

from __future__ import annotations

import logging
from typing import List, Text

from rasa_sdk import Action
from rasa_sdk.events import ActiveLoop, EventType, SlotSet

from actions.request_common import (
    format_date,
    latest_intent,
    letter_url,
    repository,
    request_payload,
    reset_form_slots,
    send_acknowledgement_now,
)
from gdpr.notices import acknowledgement_key, controller_phrase
from gdpr.requests import NoDraft, NotVerified, StorageUnavailable, StoredRequest

logger = logging.getLogger(__name__)


def confirmation_text(request: StoredRequest, acknowledged: bool) -> str:
    """What the citizen is told once the request is recorded: what happened, and only that."""
    info = request.kind_info
    controller = controller_phrase(request)
    text = (
        f"Demande enregistrée. Votre {info.label} porte la référence {request.reference} : ce service l'a "
        f"enregistrée le {format_date(request.received_at)}, après vérification de votre adresse e-mail. "
    )
    if request.deadline is None:
        text += (
            "Elle n'a pas encore été transmise au responsable des données : l'équipe de protection des données "
            f"de ce service va la transmettre à {controller} et vous écrira à ce moment-là. Le délai de réponse "
            "d'un mois (prolongeable de deux mois avec motif) court à partir de sa réception par celui-ci. "
        )
    else:
        text += (
            f"L'équipe de protection des données de ce service la traite pour {controller}, qui doit vous "
            f"répondre au plus tard le {format_date(request.deadline)} (un mois à compter de l'enregistrement, "
            "prolongeable de deux mois avec motif). "
        )
    if acknowledged:
        text += "Un accusé de réception vient de vous être envoyé par e-mail. "
    else:
        text += (
            "L'accusé de réception par e-mail n'a pas encore pu partir : il vous sera envoyé dès que "
            "possible, sans que vous ayez à refaire la demande. "
        )
    text += (
        "Vous recevrez un e-mail à chaque étape ; sans réponse dans le délai, vous pourrez porter plainte auprès "
        "de la CNIL. Pour suivre votre demande ici, donnez-moi sa référence puis votre adresse e-mail. "
        f"Votre lettre de demande, à conserver : {letter_url(request)}"
    )
    return text


class ActionSubmitRequest(Action):
    """Store the confirmed request; confirm only after the database committed it."""

    def name(self) -> Text:
        return "action_submit_request"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        if latest_intent(tracker).get("name") == "retry_submit" and tracker.get_slot("submit_failed") is not True:
            # The retry button only makes sense after a failed submission of this draft: typed or
            # replayed at any other step it would skip the summary and the confirmation.
            dispatcher.utter_message(text="Il n'y a aucun enregistrement en échec à réessayer.")
            return []
        try:
            request = repository().submit(tracker.sender_id)
        except NoDraft:
            dispatcher.utter_message(
                text="Je n'ai aucune demande en attente d'enregistrement. Voulez-vous en commencer une ?"
            )
            return reset_form_slots() + [SlotSet("submit_failed", None)]
        except NotVerified:
            dispatcher.utter_message(
                text=(
                    "Votre adresse e-mail n'a pas encore été vérifiée : la demande n'est pas enregistrée. "
                    "Saisissez le code reçu par e-mail, ou demandez-en un nouveau."
                ),
                buttons=[{"title": "Renvoyer le code", "payload": "/resend_code"}],
            )
            return [SlotSet("email_code", None)]
        except StorageUnavailable:
            logger.error("request not stored: storage unavailable")
            dispatcher.utter_message(
                text=(
                    "Je n'ai pas pu enregistrer votre demande à cause d'un problème technique : elle n'est pas "
                    "enregistrée. Vos réponses sont conservées ; réessayez dans quelques minutes."
                ),
                buttons=[{"title": "Réessayer l'enregistrement", "payload": "/retry_submit"}],
                json_message={"error": "storage_unavailable"},
            )
            return [SlotSet("submit_failed", True)]
        acknowledged = await send_acknowledgement_now(repository().url, acknowledgement_key(request))
        dispatcher.utter_message(
            text=confirmation_text(request, acknowledged), json_message={"request": request_payload(request)}
        )
        logger.info("request stored: reference=%s kind=%s", request.reference, request.kind)
        return reset_form_slots() + [SlotSet("submit_failed", None), SlotSet("request_reference", request.reference)]


class ActionCancelRequest(Action):
    def name(self) -> Text:
        return "action_cancel_request"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        try:
            repository().delete_draft(tracker.sender_id)
        except StorageUnavailable:
            logger.warning("draft not deleted on cancel: storage unavailable")
        dispatcher.utter_message(response="utter_request_cancelled")
        return (
            [ActiveLoop(None)]
            + reset_form_slots()
            + [SlotSet("submit_failed", None), SlotSet("request_reference", None), SlotSet("status_email", None)]
        )
