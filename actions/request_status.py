"""The request status form: a request's status is given only to whoever knows both its
reference and the e-mail address it was made with."""

from __future__ import annotations

from typing import List, Text

from rasa_sdk import Action, FormValidationAction
from rasa_sdk.events import EventType, SlotSet

from actions.request_common import (
    EMAIL_IN_TEXT,
    REFERENCE_PATTERN,
    STATUS_FORM,
    clean_text,
    form_progress,
    format_date,
    invalid_answer,
    is_digression,
    latest_intent,
    repository,
    status_payload,
    tell_storage_unavailable,
)
from gdpr.requests import StorageUnavailable, emails_match


def lifecycle_text(request) -> str:
    """Transmission and deadline, told as the console recorded them (and as the e-mails did)."""
    closed = request.status in ("traitée", "refusée")
    if request.transmitted_on:
        text = f"Elle a été transmise à {request.transmitted_to} le {format_date(request.transmitted_on)}."
    elif closed:
        text = ""
    else:
        text = (
            "Elle n'a pas encore été transmise au responsable des données : l'équipe de protection des données "
            "de ce service s'en charge et vous écrira à ce moment-là."
        )
    if closed:
        return text.strip()
    if request.deadline is None:
        text += " Le délai de réponse d'un mois courra à partir de sa réception par le responsable."
    elif request.extension_reason:
        text += (
            f" Le délai a été prolongé (motif : {request.extension_reason}) : réponse attendue au plus tard le "
            f"{format_date(request.deadline)}."
        )
    else:
        text += (
            f" Réponse attendue au plus tard le {format_date(request.deadline)} (délai prolongeable de deux mois "
            "avec motif)."
        )
    return text.strip()


class ValidateRequestStatusForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_request_status_form"

    async def extract_request_reference(self, dispatcher, tracker, domain):
        text = tracker.latest_message.get("text") or ""
        intent = latest_intent(tracker).get("name") or ""
        if text.startswith("/") or intent in ("cancel", "ask_fact"):
            return {}
        # A reference is an answer whatever the NLU made of it: typed alone, it often reads as
        # another « request_status » message, and refusing it looped the form.
        entity = next(tracker.get_latest_entity_values("request_reference"), None)
        match = REFERENCE_PATTERN.search(entity or text)
        if match:
            return {"request_reference": match.group(0).upper()}
        if is_digression(tracker) or (intent.startswith("request_") and intent != "request_status"):
            return {}
        if tracker.get_slot("requested_slot") == "request_reference":
            return {"request_reference": text}
        return {}

    async def extract_status_email(self, dispatcher, tracker, domain):
        text = tracker.latest_message.get("text") or ""
        if tracker.get_slot("requested_slot") != "status_email" or is_digression(tracker) or text.startswith("/"):
            return {}
        return {"status_email": tracker.latest_message.get("text") or ""}

    async def validate_request_reference(self, value, dispatcher, tracker, domain):
        match = REFERENCE_PATTERN.search(str(value or ""))
        if not match:
            return invalid_answer(
                dispatcher,
                tracker,
                "request_reference",
                "Une référence ressemble à HDH-2026-000123. Pouvez-vous la recopier ?",
            )
        return {"request_reference": match.group(0).upper(), "invalid_answers": 0.0}

    async def validate_status_email(self, value, dispatcher, tracker, domain):
        found = EMAIL_IN_TEXT.findall(clean_text(value))
        if len(found) != 1:
            return invalid_answer(
                dispatcher,
                tracker,
                "status_email",
                "Indiquez l'adresse e-mail donnée lors de la demande, sous la forme nom@exemple.fr.",
            )
        return {"status_email": found[0], "invalid_answers": 0.0}


class AskRequestReference(Action):
    def name(self) -> Text:
        return "action_ask_request_reference"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        dispatcher.utter_message(
            text="Quelle est la référence de votre demande (par exemple HDH-2026-000123) ?",
            json_message={"form": form_progress(STATUS_FORM, "request_reference", domain)},
        )
        return []


class AskStatusEmail(Action):
    def name(self) -> Text:
        return "action_ask_status_email"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        dispatcher.utter_message(
            text=(
                "Pour protéger votre demande, indiquez l'adresse e-mail avec laquelle vous l'avez faite. "
                "Je ne donne le statut que si elle correspond."
            ),
            json_message={"form": form_progress(STATUS_FORM, "status_email", domain)},
        )
        return []


class ActionShowRequestStatus(Action):
    """Give a request's status only to whoever knows its reference and e-mail."""

    def name(self) -> Text:
        return "action_show_request_status"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        reference = tracker.get_slot("request_reference") or ""
        email = tracker.get_slot("status_email") or ""
        # The e-mail slot is masked in stored history: compare with this turn's value only.
        events = [SlotSet("request_reference", None), SlotSet("status_email", None), SlotSet("invalid_answers", 0.0)]
        try:
            request = repository().find_by_reference(reference)
        except StorageUnavailable:
            tell_storage_unavailable(dispatcher)
            return events
        if request is None or not emails_match(request.email, email):
            dispatcher.utter_message(
                text=(
                    f"Je ne trouve pas de demande {reference} faite avec cette adresse e-mail. Vérifiez la référence "
                    "et l'adresse, ou contactez le délégué à la protection des données."
                ),
                json_message={"request_status": {"reference": reference, "found": False}},
            )
            return events
        text = (
            f"Votre {request.kind_info.label} {request.reference}, enregistrée par ce service le "
            f"{format_date(request.received_at)}, est « {request.status} »."
        )
        if request.status == "refusée" and request.status_reason:
            text += f" Motif : {request.status_reason}."
        text += " " + lifecycle_text(request)
        dispatcher.utter_message(
            text=text,
            # Never the letter's link: its key would give the letter (name, e-mail, free text) to anyone
            # who knows a reference and the e-mail; the citizen has the link from the confirmation.
            json_message={"request_status": {**status_payload(request), "found": True}},
        )
        return events
