"""The request forms' questions (one `action_ask_<field>` per field of the registry, with the
form's progress in `custom.form`) and the summary that asks to confirm or correct."""

from __future__ import annotations

import abc
import asyncio
import json
from typing import List, Text

from rasa_sdk import Action
from rasa_sdk.events import ActiveLoop, EventType, SlotSet

from actions.request_common import (
    form_progress,
    repository,
    slots_to_ask,
    tell_code_sending,
    tell_storage_unavailable,
)
from gdpr.kinds import FIELDS, KIND_BY_FORM, KINDS, SCOPE_LABELS
from gdpr.requests import StorageUnavailable
from gdpr.verification import EmailVerification

SCOPE_BUTTONS = [
    {"title": "Un projet de recherche du Health Data Hub", "payload": "Un projet de recherche du Health Data Hub"},
    {"title": "Mes données de l'Assurance maladie (SNDS)", "payload": "Mes données de l'Assurance maladie (SNDS)"},
]


def intro(kind: str, steps: int) -> str:
    info = KINDS[kind]
    return (
        f"Je vais préparer votre {info.label} ({info.article}) en {steps} étapes. Je vous demanderai seulement "
        "votre nom, une adresse e-mail pour la réponse et les précisions utiles ; jamais votre numéro de "
        "sécurité sociale. Vous pouvez écrire « annuler » à tout moment. "
    )


def asked_before(tracker, form: str, slot: str) -> bool:
    """Whether this form, since it last started, already asked for `slot` before this turn (the
    form sets `requested_slot` each time it asks)."""
    asked = 0
    for event in reversed(tracker.events or []):
        if event.get("event") == "active_loop" and event.get("name") == form:
            break
        if event.get("event") == "slot" and event.get("name") == "requested_slot" and event.get("value") == slot:
            asked += 1
    return asked >= 2


class AskSlotAction(Action, abc.ABC):
    """Ask one question of a request form, with the form's progress (one subclass per slot)."""

    @property
    @abc.abstractmethod
    def slot(self) -> str:
        """The slot this question fills."""

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        form = (tracker.active_loop or {}).get("name") or ""
        progress = form_progress(form, self.slot, domain, tracker)
        text = FIELDS[self.slot].question
        if progress["step"] == 1 and form in KIND_BY_FORM and not asked_before(tracker, form, self.slot):
            # The introduction is said once; after an invalid answer the question comes alone.
            text = intro(KIND_BY_FORM[form].name, progress["steps"]) + text
        buttons = SCOPE_BUTTONS if self.slot == "data_scope" else []
        dispatcher.utter_message(text=text, buttons=buttons, json_message={"form": progress})
        return []


def correction_payload(field: str) -> str:
    return "/correct_field" + json.dumps({"request_field": field}, separators=(",", ":"))


class AskRequestConfirmed(Action):
    """Show the summary, read back from the draft, and ask to confirm or correct."""

    def name(self) -> Text:
        return "action_ask_request_confirmed"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        form = (tracker.active_loop or {}).get("name") or ""
        progress = form_progress(form, "request_confirmed", domain, tracker)
        try:
            draft = repository().get_draft(tracker.sender_id)
        except StorageUnavailable:
            tell_storage_unavailable(dispatcher)
            return []
        if draft is None or form not in KIND_BY_FORM:
            dispatcher.utter_message(text="Je ne retrouve pas les réponses de votre demande : recommençons.")
            return [ActiveLoop(None), SlotSet("requested_slot", None)]
        info = KINDS[draft.kind]
        answers = draft.answers
        lines = [f"Voici le récapitulatif de votre {info.label} ({info.article}) :"]
        for field in info.fields_for(answers.get("data_scope")):
            value = answers.get(field, "")
            if field == "data_scope":
                value = SCOPE_LABELS.get(value, "?")
            lines.append(f"• {FIELDS[field].summary_label} : {value}")
        lines.append(
            "Confirmez-vous cette demande ? Je vous enverrai alors un code à 6 chiffres par e-mail pour vérifier "
            "votre adresse : la demande sera enregistrée une fois ce code saisi."
        )
        required = slots_to_ask(form, domain, tracker)
        buttons = [{"title": "Oui, m'envoyer le code", "payload": "/affirm"}]
        buttons += [
            {"title": f"Corriger {FIELDS[f].label}", "payload": correction_payload(f)} for f in required if f in FIELDS
        ]
        buttons.append({"title": "Annuler la demande", "payload": "/cancel"})
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons, json_message={"form": progress})
        return []


class AskEmailCode(Action):
    """The verification step: send the first code for this address, then ask for it.

    A code is sent automatically only the first time (or for a corrected address); after that,
    a new one is sent only when the citizen asks for it (« Renvoyer le code »), within limits."""

    def name(self) -> Text:
        return "action_ask_email_code"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        form = (tracker.active_loop or {}).get("name") or ""
        progress = form_progress(form, "email_code", domain, tracker)
        buttons = [
            {"title": "Renvoyer le code", "payload": "/resend_code"},
            {"title": "Corriger l'adresse e-mail", "payload": correction_payload("email")},
            {"title": "Annuler la demande", "payload": "/cancel"},
        ]
        try:
            draft = repository().get_draft(tracker.sender_id)
            verification = EmailVerification(repository())
            first_time = draft is not None and not verification.was_sent(draft)
            if first_time:
                result = await asyncio.get_running_loop().run_in_executor(None, verification.send_code, draft)
        except StorageUnavailable:
            tell_storage_unavailable(dispatcher)
            return []
        if draft is None:
            dispatcher.utter_message(text="Je ne retrouve pas les réponses de votre demande : recommençons.")
            return [ActiveLoop(None), SlotSet("requested_slot", None)]
        if first_time:
            tell_code_sending(dispatcher, result, draft.answers.get("email", ""))
        dispatcher.utter_message(
            text="Saisissez le code à 6 chiffres reçu par e-mail.",
            buttons=buttons,
            json_message={"form": progress},
        )
        return []


# One question action per field: AskFirstName serves action_ask_first_name.
for _field in FIELDS:
    _class_name = "Ask" + "".join(part.capitalize() for part in _field.split("_"))
    globals()[_class_name] = type(_class_name, (AskSlotAction,), {"slot": _field, "__module__": __name__})
