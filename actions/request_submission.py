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
    recipient,
    repository,
    request_payload,
    reset_form_slots,
)
from gdpr.requests import NoDraft, StorageUnavailable

logger = logging.getLogger(__name__)


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
        info = request.kind_info
        dispatcher.utter_message(
            text=(
                f"Demande enregistrée. Votre {info.label} porte la référence {request.reference} : ce service l'a "
                f"enregistrée le {format_date(request.received_at)}, et l'équipe de protection des données qui "
                "l'exploite peut la consulter. Elle n'a pas été envoyée au responsable des données : pour qu'il la "
                f"reçoive, envoyez-lui vous-même la lettre préparée (destinataire : {recipient(request)}), par "
                "courrier recommandé avec avis de réception ou par sa messagerie en ligne, et gardez la preuve "
                "d'envoi. Il aura un mois à compter de sa réception pour vous répondre (prolongeable de deux mois "
                "s'il vous en informe) ; sans réponse, vous pourrez porter plainte auprès de la CNIL. Gardez votre "
                "référence pour me demander où en est votre demande. "
                f"Votre lettre, à imprimer ou enregistrer en PDF : {letter_url(request)}"
            ),
            json_message={"request": request_payload(request)},
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
