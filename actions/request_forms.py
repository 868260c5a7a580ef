"""GDPR request forms: ask, validate, summarise, submit, cancel, and status lookup.

Form names are a contract (SPEC §3.2): rectification_request_form, erasure_request_form,
access_request_form, objection_request_form. Each question carries
`custom.form = {"name", "step", "steps"}`. Personal answers go to the application
database (a draft) as soon as they are valid; the conversation log only ever stores
them masked, and the summary and the submission read them back from the draft.
"""
from __future__ import annotations

import abc
import json
import logging
import re
import unicodedata
from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from mesdonnees import settings
from mesdonnees.pii import contains_nir
from mesdonnees.requests_repository import (
    KINDS,
    NoDraft,
    RequestRepository,
    StorageUnavailable,
    StoredRequest,
    emails_match,
)

logger = logging.getLogger(__name__)

FORM_KIND = {
    "rectification_request_form": "rectification",
    "erasure_request_form": "erasure",
    "access_request_form": "access",
    "objection_request_form": "objection",
}
STATUS_FORM = "request_status_form"
MAX_INVALID_ANSWERS = 3
MAX_NAME_LENGTH = 60
MAX_DESCRIPTION_LENGTH = 1000
EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
NAME_PATTERN = re.compile(r"^[^\W\d_]+(?:[ '’.-]+[^\W\d_]+)*\.?$")
REFERENCE_PATTERN = re.compile(r"\bHDH-\d{4}-\d{6}\b", re.IGNORECASE)
SCOPE_KEYWORDS = {
    "hdh_project": ("projet", "recherche", "health data hub", "hdh", "hub", "plateforme", "étude", "etude"),
    "health_insurance": ("assurance", "maladie", "cpam", "ameli", "snds", "sécu", "secu", "caisse", "remboursement"),
}
SCOPE_LABELS = {
    "hdh_project": "un projet de recherche sur la Plateforme du Health Data Hub",
    "health_insurance": "vos données de l'Assurance maladie (SNDS)",
}
FIELD_LABELS = {
    "data_scope": "les données concernées",
    "first_name": "le prénom",
    "last_name": "le nom",
    "email": "l'adresse e-mail",
    "wrong_data": "l'information inexacte",
    "correct_data": "l'information correcte",
    "objection_reason": "les raisons de l'opposition",
}
# Intents that, phrased as a question, interrupt a form for an answer (then it resumes).
DIGRESSION_INTENTS = ("faq", "out_of_scope")
DIGRESSION_CONFIDENCE = 0.8


def repository() -> RequestRepository:
    return RequestRepository(settings.database_url())


def clean_text(value: Any) -> str:
    """Normalise a typed answer: NFC, no control characters, single spaces."""
    text = unicodedata.normalize("NFC", str(value or ""))
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(text.split())


def form_progress(form: str, slot: str, domain: DomainDict) -> Dict[str, Any]:
    required = domain.get("forms", {}).get(form, {}).get("required_slots", [])
    step = required.index(slot) + 1 if slot in required else 1
    return {"name": form, "step": step, "steps": len(required)}


def _intent(tracker: Tracker) -> Dict[str, Any]:
    return tracker.latest_message.get("intent") or {}


def is_digression(tracker: Tracker) -> bool:
    """The latest message is not an answer: a cancel, a suggestion button, or a question."""
    text = tracker.latest_message.get("text") or ""
    intent = _intent(tracker)
    if intent.get("name") in ("cancel", "ask_fact"):
        return True
    return (
        intent.get("name") in DIGRESSION_INTENTS
        and float(intent.get("confidence") or 0) >= DIGRESSION_CONFIDENCE
        and "?" in text
    )


def _invalid(dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, message: str) -> Dict[str, Any]:
    """Explain what is wrong; after three invalid answers in a row, offer to stop."""
    count = int(tracker.get_slot("invalid_answers") or 0) + 1
    if count >= MAX_INVALID_ANSWERS:
        dispatcher.utter_message(
            text=f"{message} Cela fait {count} réponses que je ne peux pas accepter : voulez-vous arrêter la demande ?",
            buttons=[{"title": "Arrêter la demande", "payload": "/cancel"}],
        )
    else:
        dispatcher.utter_message(text=message)
    return {slot: None, "invalid_answers": float(count)}


def _unavailable(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(
        text=(
            "Le service d'enregistrement est momentanément indisponible : votre réponse n'a pas pu être "
            "conservée. Réessayez dans quelques minutes."
        ),
        json_message={"error": "storage_unavailable"},
    )


class ValidateRequestForm(FormValidationAction):
    """Extract and validate the answers of one GDPR request form (one subclass per form)."""

    @property
    @abc.abstractmethod
    def FORM(self) -> str:  # noqa: N802 - a constant in each subclass
        """The form's active loop name."""

    def name(self) -> Text:
        return f"validate_{self.FORM}"

    def form_name(self) -> Text:
        return self.FORM

    @property
    def kind(self) -> str:
        return FORM_KIND[self.FORM]

    # Extraction: the typed text answers the requested slot unless it is a digression.
    def _answer(self, tracker: Tracker, slot: str) -> Dict[str, Any]:
        if tracker.get_slot("requested_slot") != slot or is_digression(tracker):
            return {}
        text = tracker.latest_message.get("text") or ""
        if text.startswith("/"):
            return {}
        return {slot: text}

    async def extract_data_scope(self, dispatcher, tracker, domain):
        return self._answer(tracker, "data_scope")

    async def extract_first_name(self, dispatcher, tracker, domain):
        return self._answer(tracker, "first_name")

    async def extract_last_name(self, dispatcher, tracker, domain):
        return self._answer(tracker, "last_name")

    async def extract_email(self, dispatcher, tracker, domain):
        return self._answer(tracker, "email")

    async def extract_wrong_data(self, dispatcher, tracker, domain):
        return self._answer(tracker, "wrong_data")

    async def extract_correct_data(self, dispatcher, tracker, domain):
        return self._answer(tracker, "correct_data")

    async def extract_objection_reason(self, dispatcher, tracker, domain):
        return self._answer(tracker, "objection_reason")

    async def extract_request_confirmed(self, dispatcher, tracker, domain):
        if tracker.get_slot("requested_slot") != "request_confirmed":
            return {}
        intent = _intent(tracker).get("name")
        if intent in ("cancel", "ask_fact") or is_digression(tracker):
            return {}
        if intent == "affirm":
            return {"request_confirmed": True}
        return {"request_confirmed": False}

    # Validation ---------------------------------------------------------------
    def _store(self, dispatcher, tracker, slot: str, value: str) -> Dict[str, Any]:
        try:
            repository().save_answer(tracker.sender_id, self.kind, slot, value)
        except StorageUnavailable:
            logger.warning("draft answer not stored: storage unavailable (slot=%s)", slot)
            _unavailable(dispatcher)
            return {slot: None}
        return {slot: value, "invalid_answers": 0.0}

    async def validate_data_scope(self, value, dispatcher, tracker, domain):
        text = clean_text(value).casefold()
        matches = [scope for scope, words in SCOPE_KEYWORDS.items() if any(w in text for w in words)]
        if len(matches) != 1:
            return _invalid(
                dispatcher, tracker, "data_scope",
                "Je n'ai pas compris de quelles données il s'agit. Choisissez « Un projet de recherche du "
                "Health Data Hub » ou « Mes données de l'Assurance maladie (SNDS) ».",
            )
        return self._store(dispatcher, tracker, "data_scope", matches[0])

    def _validate_name(self, slot: str, value, dispatcher, tracker):
        name = clean_text(value)
        if contains_nir(name) or EMAIL_IN_TEXT.search(name):
            return _invalid(dispatcher, tracker, slot, "Indiquez seulement votre nom, sans numéro ni adresse.")
        if not name or len(name) > MAX_NAME_LENGTH or not NAME_PATTERN.match(name):
            label = "prénom" if slot == "first_name" else "nom de famille"
            return _invalid(
                dispatcher, tracker, slot,
                f"Ce {label} ne semble pas valide : utilisez des lettres, espaces, traits d'union ou "
                f"apostrophes ({MAX_NAME_LENGTH} caractères au plus).",
            )
        return self._store(dispatcher, tracker, slot, name)

    async def validate_first_name(self, value, dispatcher, tracker, domain):
        return self._validate_name("first_name", value, dispatcher, tracker)

    async def validate_last_name(self, value, dispatcher, tracker, domain):
        return self._validate_name("last_name", value, dispatcher, tracker)

    async def validate_email(self, value, dispatcher, tracker, domain):
        text = clean_text(value)
        found = EMAIL_IN_TEXT.findall(text)
        email = found[0] if len(found) == 1 else text
        if len(email) > 254 or not EMAIL_PATTERN.match(email) or ".." in email:
            return _invalid(
                dispatcher, tracker, "email",
                "Cette adresse e-mail ne semble pas valide. Écrivez-la sous la forme nom@exemple.fr.",
            )
        local, domain_part = email.rsplit("@", 1)
        return self._store(dispatcher, tracker, "email", f"{local}@{domain_part.lower()}")

    def _validate_description(self, slot: str, value, dispatcher, tracker):
        text = clean_text(value)
        if contains_nir(text):
            return _invalid(
                dispatcher, tracker, slot,
                "Votre réponse semble contenir un numéro de sécurité sociale : il n'est pas nécessaire et je "
                "ne peux pas l'accepter. Décrivez la situation sans ce numéro.",
            )
        if len(text) < 3:
            return _invalid(dispatcher, tracker, slot, "Votre réponse est trop courte : décrivez-la en quelques mots.")
        if len(text) > MAX_DESCRIPTION_LENGTH:
            return _invalid(
                dispatcher, tracker, slot,
                f"Votre réponse est trop longue ({len(text)} caractères) : résumez-la en "
                f"{MAX_DESCRIPTION_LENGTH} caractères au plus.",
            )
        return self._store(dispatcher, tracker, slot, text)

    async def validate_wrong_data(self, value, dispatcher, tracker, domain):
        return self._validate_description("wrong_data", value, dispatcher, tracker)

    async def validate_correct_data(self, value, dispatcher, tracker, domain):
        return self._validate_description("correct_data", value, dispatcher, tracker)

    async def validate_objection_reason(self, value, dispatcher, tracker, domain):
        return self._validate_description("objection_reason", value, dispatcher, tracker)

    async def validate_request_confirmed(self, value, dispatcher, tracker, domain):
        if value is True:
            return {"request_confirmed": True, "invalid_answers": 0.0}
        intent = _intent(tracker).get("name")
        required = domain.get("forms", {}).get(self.FORM, {}).get("required_slots", [])
        if intent == "correct_field":
            field = next(tracker.get_latest_entity_values("request_field"), None)
            if field in required and field != "request_confirmed":
                dispatcher.utter_message(text=f"D'accord, corrigeons {FIELD_LABELS[field]}.")
                return {field: None, "request_confirmed": None, "invalid_answers": 0.0}
        if intent == "deny":
            dispatcher.utter_message(text="D'accord, rien n'est envoyé. Choisissez ce qu'il faut corriger, ou annulez.")
            return {"request_confirmed": None}
        return _invalid(
            dispatcher, tracker, "request_confirmed",
            "Répondez « oui » pour enregistrer la demande, ou choisissez ce qu'il faut corriger.",
        )


class ValidateRectificationRequestForm(ValidateRequestForm):
    FORM = "rectification_request_form"


class ValidateErasureRequestForm(ValidateRequestForm):
    FORM = "erasure_request_form"


class ValidateAccessRequestForm(ValidateRequestForm):
    FORM = "access_request_form"


class ValidateObjectionRequestForm(ValidateRequestForm):
    FORM = "objection_request_form"


# Questions -------------------------------------------------------------------------
QUESTIONS = {
    "data_scope": (
        "Vos données concernées sont-elles utilisées dans un projet de recherche du Health Data Hub, ou "
        "s'agit-il de vos données de l'Assurance maladie (remboursements, SNDS) ? Cela décide à qui la "
        "demande est adressée."
    ),
    "first_name": "Quel est votre prénom ?",
    "last_name": "Quel est votre nom de famille ?",
    "email": "À quelle adresse e-mail la réponse doit-elle vous être envoyée ?",
    "wrong_data": (
        "Quelle information est inexacte ? Décrivez-la brièvement, sans numéro de sécurité sociale et sans "
        "détail médical au-delà de ce que vous jugez nécessaire."
    ),
    "correct_data": "Quelle est l'information correcte ?",
    "objection_reason": (
        "Le droit d'opposition doit s'appuyer sur des raisons tenant à votre situation particulière. "
        "Expliquez-les brièvement, sans détail médical au-delà de ce que vous jugez nécessaire."
    ),
}
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
        progress = form_progress(form, self.slot, domain)
        text = QUESTIONS[self.slot]
        if progress["step"] == 1 and form in FORM_KIND:
            text = intro(FORM_KIND[form], progress["steps"]) + text
        buttons = SCOPE_BUTTONS if self.slot == "data_scope" else []
        dispatcher.utter_message(text=text, buttons=buttons, json_message={"form": progress})
        return []


class AskDataScope(AskSlotAction):
    slot = "data_scope"


class AskFirstName(AskSlotAction):
    slot = "first_name"


class AskLastName(AskSlotAction):
    slot = "last_name"


class AskEmail(AskSlotAction):
    slot = "email"


class AskWrongData(AskSlotAction):
    slot = "wrong_data"


class AskCorrectData(AskSlotAction):
    slot = "correct_data"


class AskObjectionReason(AskSlotAction):
    slot = "objection_reason"


def correction_payload(field: str) -> str:
    return "/correct_field" + json.dumps({"request_field": field}, separators=(",", ":"))


class AskRequestConfirmed(Action):
    """Show the summary, read back from the draft, and ask to confirm or correct."""

    def name(self) -> Text:
        return "action_ask_request_confirmed"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        form = (tracker.active_loop or {}).get("name") or ""
        progress = form_progress(form, "request_confirmed", domain)
        try:
            draft = repository().get_draft(tracker.sender_id)
        except StorageUnavailable:
            _unavailable(dispatcher)
            return []
        if draft is None or form not in FORM_KIND:
            dispatcher.utter_message(text="Je ne retrouve pas les réponses de votre demande : recommençons.")
            return [ActiveLoop(None), SlotSet("requested_slot", None)]
        info = KINDS[draft.kind]
        answers = draft.answers
        lines = [f"Voici le récapitulatif de votre {info.label} ({info.article}) :"]
        lines.append(f"• Données concernées : {SCOPE_LABELS.get(answers.get('data_scope'), '?')}")
        lines.append(f"• Prénom : {answers.get('first_name', '')}")
        lines.append(f"• Nom : {answers.get('last_name', '')}")
        lines.append(f"• E-mail pour la réponse : {answers.get('email', '')}")
        for field in ("wrong_data", "correct_data", "objection_reason"):
            if answers.get(field):
                lines.append(f"• {FIELD_LABELS[field].capitalize()} : {answers[field]}")
        lines.append("Confirmez-vous l'enregistrement de cette demande ?")
        required = domain.get("forms", {}).get(form, {}).get("required_slots", [])
        buttons = [{"title": "Oui, enregistrer la demande", "payload": "/affirm"}]
        buttons += [
            {"title": f"Corriger {FIELD_LABELS[f]}", "payload": correction_payload(f)}
            for f in required if f in FIELD_LABELS
        ]
        buttons.append({"title": "Annuler la demande", "payload": "/cancel"})
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons, json_message={"form": progress})
        return []


# Submission, cancellation, status ----------------------------------------------------
def format_date(value) -> str:
    return value.strftime("%d/%m/%Y")


def recipient(request: StoredRequest) -> str:
    """The controller as written after « destinataire : » (lower-case article)."""
    return request.controller[0].lower() + request.controller[1:]


def letter_url(request: StoredRequest) -> str:
    return f"{settings.public_web_url()}/lettre/{request.reference}?cle={request.letter_key}"


def request_payload(request: StoredRequest) -> Dict[str, Any]:
    return {
        "reference": request.reference,
        "kind": request.kind,
        "status": request.status,
        "received_on": request.received_at.date().isoformat(),
        "deadline": request.deadline.isoformat(),
        "controller": request.controller,
        "letter_url": letter_url(request),
    }


FORM_SLOTS_TO_RESET = (
    "data_scope", "first_name", "last_name", "email", "wrong_data", "correct_data",
    "objection_reason", "request_confirmed", "invalid_answers", "requested_slot",
)


def reset_form_slots() -> List[EventType]:
    return [SlotSet(slot, 0.0 if slot == "invalid_answers" else None) for slot in FORM_SLOTS_TO_RESET]


class ActionSubmitRequest(Action):
    """Store the confirmed request; confirm only after the database committed it."""

    def name(self) -> Text:
        return "action_submit_request"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        if _intent(tracker).get("name") == "retry_submit" and tracker.get_slot("submit_failed") is not True:
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
        return [ActiveLoop(None)] + reset_form_slots() + [
            SlotSet("submit_failed", None), SlotSet("request_reference", None), SlotSet("status_email", None)
        ]


class ValidateRequestStatusForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_request_status_form"

    async def extract_request_reference(self, dispatcher, tracker, domain):
        text = tracker.latest_message.get("text") or ""
        intent = _intent(tracker).get("name") or ""
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
            return _invalid(
                dispatcher, tracker, "request_reference",
                "Une référence ressemble à HDH-2026-000123. Pouvez-vous la recopier ?",
            )
        return {"request_reference": match.group(0).upper(), "invalid_answers": 0.0}

    async def validate_status_email(self, value, dispatcher, tracker, domain):
        found = EMAIL_IN_TEXT.findall(clean_text(value))
        if len(found) != 1:
            return _invalid(
                dispatcher, tracker, "status_email",
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
            _unavailable(dispatcher)
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
        if request.status in ("reçue", "en cours"):
            text += (
                " Ce service ne l'a pas envoyée au responsable des données : c'est la lettre que vous lui envoyez qui "
                "fait courir son délai de réponse d'un mois (prolongeable de deux mois s'il vous en informe)."
            )
        dispatcher.utter_message(
            text=text,
            json_message={"request_status": {**request_payload(request), "found": True}},
        )
        return events
