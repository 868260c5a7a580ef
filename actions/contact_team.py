"""« Écrire à l'équipe » (contact_team_form, SPEC §3.2): a question no fact answers, left for the
data-protection team, who answer by e-mail. The form asks for the question (pre-filled with the
citizen's last question, as the conversation log keeps it: masked), an e-mail address proven by
a code as for requests, and the consent to be answered by e-mail; never a health detail or the
NIR (a typed NIR is refused; names and health details are masked before storage)."""

from __future__ import annotations

import logging
from typing import List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet

from actions.request_common import (
    clean_text,
    form_progress,
    invalid_answer,
    latest_intent,
    repository,
    send_acknowledgement_now,
    tell_storage_unavailable,
)
from actions.request_form_validation import ValidateRequestForm
from gdpr.requests import NoDraft, NotVerified, StorageUnavailable
from privacy.masking import contains_nir
from team_inbox.messages import CONTACT_KIND, MAX_QUESTION_CHARS, TeamInbox
from team_inbox.notices import acknowledgement_key

logger = logging.getLogger(__name__)

FORM = "contact_team_form"
_UNCLEAR = "?"  # neither yes nor no at the consent step
CONTACT_SLOTS = ("contact_question", "contact_consent", "email", "email_code", "invalid_answers", "requested_slot")
# Messages that are not a question for the team (the wish to write, greetings, buttons).
_NOT_A_QUESTION = {"contact_team", "human_handoff", "greet", "goodbye", "thank", "affirm", "deny", "cancel"}


def last_question(tracker: Tracker) -> Optional[str]:
    """The citizen's latest message that reads as a question, as stored (masked)."""
    for event in reversed(tracker.events or []):
        if event.get("event") != "user":
            continue
        text = (event.get("text") or "").strip()
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if text and not text.startswith("/") and intent not in _NOT_A_QUESTION and len(text) >= 8:
            return text[:MAX_QUESTION_CHARS]
    return None


def reset_contact_slots() -> List[EventType]:
    return [SlotSet(slot, 0.0 if slot == "invalid_answers" else None) for slot in CONTACT_SLOTS]


class ValidateContactTeamForm(ValidateRequestForm):
    """The question, the address, the consent, then the code: the address and the code are
    validated exactly as in the request forms (same rules, same sending limits)."""

    FORM = FORM

    def name(self) -> Text:
        return f"validate_{FORM}"

    @property
    def kind(self) -> str:
        return CONTACT_KIND

    async def extract_contact_question(self, dispatcher, tracker, domain):
        if tracker.get_slot("requested_slot") != "contact_question":
            return {}
        intent = latest_intent(tracker).get("name")
        text = tracker.latest_message.get("text") or ""
        if intent == "affirm" and text.startswith("/"):
            prefilled = last_question(tracker)
            return {"contact_question": prefilled} if prefilled else {}
        if intent == "cancel" or text.startswith("/"):
            return {}
        return {"contact_question": text}

    async def validate_contact_question(self, value, dispatcher, tracker, domain):
        text = clean_text(value)
        if contains_nir(text):
            return invalid_answer(
                dispatcher,
                tracker,
                "contact_question",
                "Votre question semble contenir un numéro de sécurité sociale : il n'est pas nécessaire. "
                "Écrivez-la sans ce numéro.",
            )
        if len(text) < 8:
            return invalid_answer(
                dispatcher, tracker, "contact_question", "Votre question est trop courte : écrivez-la en une phrase."
            )
        if len(text) > MAX_QUESTION_CHARS:
            return invalid_answer(
                dispatcher,
                tracker,
                "contact_question",
                f"Votre question est trop longue ({len(text)} caractères) : résumez-la en {MAX_QUESTION_CHARS} "
                "caractères au plus.",
            )
        return self._store(dispatcher, tracker, "contact_question", text)

    async def extract_email(self, dispatcher, tracker, domain):
        # Whatever is typed at this step is an address to check (no typed question is answered
        # during this form: the question is what it collects).
        text = tracker.latest_message.get("text") or ""
        if tracker.get_slot("requested_slot") != "email" or text.startswith("/"):
            return {}
        return {"email": text}

    async def extract_contact_consent(self, dispatcher, tracker, domain):
        if tracker.get_slot("requested_slot") != "contact_consent":
            return {}
        intent = latest_intent(tracker).get("name")
        if intent == "affirm":
            return {"contact_consent": True}
        if intent == "deny":
            return {"contact_consent": False}
        if intent in ("cancel", "ask_fact"):
            return {}
        return {"contact_consent": _UNCLEAR}

    async def validate_contact_consent(self, value, dispatcher, tracker, domain):
        if value is True:
            stored = self._store(dispatcher, tracker, "contact_consent", "oui")
            return {"contact_consent": True if stored.get("contact_consent") else None}
        if value is False:
            dispatcher.utter_message(
                text="Sans votre accord, je ne peux pas transmettre votre message : l'équipe ne répond que par "
                "e-mail. Vous pouvez accepter, ou annuler.",
            )
            return {"contact_consent": None}
        return invalid_answer(
            dispatcher, tracker, "contact_consent", "Répondez « oui » pour accepter, ou annulez le message."
        )


class AskContactQuestion(Action):
    def name(self) -> Text:
        return "action_ask_contact_question"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        progress = form_progress(FORM, "contact_question", domain)
        intro = (
            "Je vais transmettre votre question à l'équipe de protection des données, qui vous répondra par "
            f"e-mail (en {progress['steps']} étapes : la question, votre adresse e-mail, votre accord, puis un "
            "code envoyé à cette adresse). N'indiquez ni numéro de sécurité sociale ni détail médical. "
        )
        prefilled = last_question(tracker)
        buttons = [{"title": "Annuler", "payload": "/cancel"}]
        if prefilled:
            text = (
                intro
                + f"Voici la question que je transmettrai : « {prefilled} ». Envoyez-la telle quelle, ou écrivez-la autrement."
            )
            buttons.insert(0, {"title": "Envoyer cette question", "payload": "/affirm"})
        else:
            text = intro + "Quelle est votre question ?"
        dispatcher.utter_message(text=text, buttons=buttons, json_message={"form": progress})
        return []


class AskContactConsent(Action):
    def name(self) -> Text:
        return "action_ask_contact_consent"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        dispatcher.utter_message(
            text=(
                "Acceptez-vous que l'équipe de protection des données vous réponde à cette adresse e-mail ? Votre "
                "adresse et votre question (données personnelles masquées) sont conservées par l'équipe pour vous "
                "répondre, et ne servent à rien d'autre."
            ),
            buttons=[
                {"title": "Oui, j'accepte", "payload": "/affirm"},
                {"title": "Non", "payload": "/deny"},
                {"title": "Annuler", "payload": "/cancel"},
            ],
            json_message={"form": form_progress(FORM, "contact_consent", domain)},
        )
        return []


class ActionSubmitContactMessage(Action):
    """Record the message once the address is proven; say so only after the commit."""

    def name(self) -> Text:
        return "action_submit_contact_message"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        from settings import contact_answer_days

        inbox = TeamInbox(repository())
        try:
            message = inbox.submit(tracker.sender_id)
        except NoDraft:
            dispatcher.utter_message(text="Je n'ai aucun message en attente d'envoi. Voulez-vous écrire à l'équipe ?")
            return reset_contact_slots()
        except NotVerified:
            dispatcher.utter_message(text="Votre adresse e-mail n'est pas vérifiée : le message n'est pas enregistré.")
            return reset_contact_slots()
        except StorageUnavailable:
            logger.error("team message not stored: storage unavailable")
            tell_storage_unavailable(dispatcher)
            return reset_contact_slots()
        acknowledged = await send_acknowledgement_now(inbox.repo.url, acknowledgement_key(message))
        text = (
            f"Message enregistré, référence {message.reference}. L'équipe de protection des données le lira et vous "
            f"répondra par e-mail, en général sous {contact_answer_days()} jours ouvrés. "
        )
        text += (
            "Un accusé de réception vient de vous être envoyé par e-mail."
            if acknowledged
            else "L'accusé de réception par e-mail n'a pas encore pu partir : il vous sera envoyé dès que possible."
        )
        dispatcher.utter_message(
            text=text, json_message={"team_message": {"reference": message.reference, "status": message.status}}
        )
        logger.info("team message stored: reference=%s", message.reference)
        return reset_contact_slots()


class ActionCancelContactMessage(Action):
    def name(self) -> Text:
        return "action_cancel_contact_message"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        try:
            repository().delete_draft(tracker.sender_id)
        except StorageUnavailable:
            logger.warning("contact draft not deleted on cancel: storage unavailable")
        dispatcher.utter_message(
            text="C'est annulé : votre message n'a pas été envoyé et ce que vous m'aviez écrit pour l'équipe a été "
            "effacé. Puis-je vous aider autrement ?"
        )
        return [ActiveLoop(None)] + reset_contact_slots()
