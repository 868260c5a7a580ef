"""Extraction and validation of the GDPR request forms' answers (one form per kind of request,
generated from the registry gdpr.kinds). A valid answer is saved at once in the request's draft
(application database); the conversation log only keeps it masked."""

from __future__ import annotations

import abc
import logging
import re
from typing import Any, Dict, Text

from rasa_sdk import FormValidationAction, Tracker

from actions.request_common import (
    CODE_VERIFIED,
    EMAIL_IN_TEXT,
    EMAIL_PATTERN,
    clean_text,
    invalid_answer,
    is_digression,
    latest_intent,
    repository,
    slots_to_ask,
    tell_code_sending,
    tell_storage_unavailable,
)
from gdpr.kinds import DESCRIPTION, EMAIL, FIELDS, KIND_BY_FORM, KINDS, NAME, SCOPE
from gdpr.requests import StorageUnavailable
from gdpr.verification import (
    EXHAUSTED,
    EXPIRED,
    NO_CODE,
    VERIFIED,
    EmailVerification,
    normalise_code,
)
from privacy.masking import contains_nir

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 60
MAX_DESCRIPTION_LENGTH = 1000
NAME_PATTERN = re.compile(r"^[^\W\d_]+(?:[ '’.-]+[^\W\d_]+)*\.?$")
SCOPE_KEYWORDS = {
    "hdh_project": ("projet", "recherche", "health data hub", "hdh", "hub", "plateforme", "étude", "etude"),
    "health_insurance": ("assurance", "maladie", "cpam", "ameli", "snds", "sécu", "secu", "caisse", "remboursement"),
}


# What the verification step's extraction hands to its validation besides a typed code.
_RESEND, _CORRECT = "/resend_code", "/correct_field"
# Typed wishes for a new code (the button sends /resend_code).
_WANTS_NEW_CODE = re.compile(r"renvo|nouveau code|pas re[çc]u|rien re[çc]u|n'arrive pas|pas eu", re.IGNORECASE)


class EmailCodeStep:
    """The last step of a request form: the code sent to the citizen's address (gdpr.verification)."""

    async def extract_email_code(self, dispatcher, tracker, domain):
        if tracker.get_slot("requested_slot") != "email_code":
            return {}
        intent = latest_intent(tracker).get("name")
        text = tracker.latest_message.get("text") or ""
        if intent == "resend_code" or (normalise_code(text) is None and _WANTS_NEW_CODE.search(text)):
            return {"email_code": _RESEND}
        if intent == "correct_field":
            return {"email_code": _CORRECT}
        if normalise_code(text) is not None:
            return {"email_code": text}
        if intent == "cancel" or is_digression(tracker) or text.startswith("/"):
            return {}
        return {"email_code": text}

    async def validate_email_code(self, value, dispatcher, tracker, domain):
        try:
            draft = repository().get_draft(tracker.sender_id)
        except StorageUnavailable:
            tell_storage_unavailable(dispatcher)
            return {"email_code": None}
        if draft is None:
            dispatcher.utter_message(text="Je ne retrouve pas les réponses de votre demande : recommençons.")
            return {"email_code": None, "requested_slot": None}
        verification = EmailVerification(repository())
        if value == _CORRECT:
            return self._correct(dispatcher, tracker, domain)
        if value == _RESEND:
            try:
                result = verification.send_code(draft)
            except StorageUnavailable:
                tell_storage_unavailable(dispatcher)
                return {"email_code": None}
            tell_code_sending(dispatcher, result, draft.answers.get("email", ""))
            return {"email_code": None, "invalid_answers": 0.0}
        if normalise_code(str(value)) is None:
            # Not a code at all: no attempt is used (only well-formed codes are checked).
            dispatcher.utter_message(text="Le code comporte 6 chiffres, par exemple 482913 : recopiez-le tel quel.")
            return {"email_code": None}
        try:
            result = verification.check_code(draft, str(value))
        except StorageUnavailable:
            tell_storage_unavailable(dispatcher)
            return {"email_code": None}
        if result.outcome == VERIFIED:
            dispatcher.utter_message(text="Merci, votre adresse e-mail est vérifiée.")
            return {"email_code": CODE_VERIFIED, "invalid_answers": 0.0}
        if result.outcome in (EXHAUSTED, EXPIRED, NO_CODE):
            reason = {
                EXHAUSTED: "Ce code n'est plus valable : les 5 essais permis ont été utilisés.",
                EXPIRED: "Ce code a expiré : il n'était valable que 10 minutes.",
                NO_CODE: "Aucun code n'est en attente pour cette adresse.",
            }[result.outcome]
            dispatcher.utter_message(
                text=f"{reason} Demandez un nouveau code avec le bouton « Renvoyer le code ».",
            )
            return {"email_code": None, "invalid_answers": 0.0}
        left = result.attempts_left
        message = f"Ce code n'est pas le bon. Il vous reste {left} essai{'s' if left > 1 else ''}."
        return invalid_answer(dispatcher, tracker, "email_code", message)

    def _correct(self, dispatcher, tracker, domain):
        required = slots_to_ask(self.FORM, domain, tracker)
        field = next(tracker.get_latest_entity_values("request_field"), None)
        if field in required and field in FIELDS:
            dispatcher.utter_message(text=f"D'accord, corrigeons {FIELDS[field].label}.")
            return {field: None, "request_confirmed": None, "email_code": None, "invalid_answers": 0.0}
        return {"email_code": None}


class ValidateRequestForm(EmailCodeStep, FormValidationAction):
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
        return KIND_BY_FORM[self.FORM].name

    async def required_slots(self, domain_slots, dispatcher, tracker, domain):
        """The domain's slots without those the law does not require for the data concerned
        (Rasa SDK asks for the next missing one of this list, then ends the form)."""
        kind = KIND_BY_FORM.get(self.FORM)  # None for a form that is not a request (a message to the team)
        skipped = kind.fields_not_asked(tracker.get_slot("data_scope")) if kind else ()
        return [s for s in domain_slots if s not in skipped]

    # Extraction: the typed text answers the requested slot unless it is a digression.
    def _answer(self, tracker: Tracker, slot: str) -> Dict[str, Any]:
        if tracker.get_slot("requested_slot") != slot or is_digression(tracker):
            return {}
        text = tracker.latest_message.get("text") or ""
        if text.startswith("/"):
            return {}
        return {slot: text}

    async def extract_request_confirmed(self, dispatcher, tracker, domain):
        if tracker.get_slot("requested_slot") != "request_confirmed":
            return {}
        intent = latest_intent(tracker).get("name")
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
            tell_storage_unavailable(dispatcher)
            return {slot: None}
        return {slot: value, "invalid_answers": 0.0}

    def _validate_scope(self, slot: str, value, dispatcher, tracker):
        text = clean_text(value).casefold()
        matches = [scope for scope, words in SCOPE_KEYWORDS.items() if any(w in text for w in words)]
        if len(matches) != 1:
            return invalid_answer(
                dispatcher,
                tracker,
                slot,
                "Je n'ai pas compris de quelles données il s'agit. Choisissez « Un projet de recherche du "
                "Health Data Hub » ou « Mes données de l'Assurance maladie (SNDS) ».",
            )
        result = self._store(dispatcher, tracker, slot, matches[0])
        if result.get(slot):  # an answer given earlier for another scope is no longer asked, nor kept
            for field in KIND_BY_FORM[self.FORM].fields_not_asked(matches[0]):
                result[field] = None
                try:
                    repository().save_answer(tracker.sender_id, self.kind, field, None)
                except StorageUnavailable:
                    logger.warning("draft answer not removed: storage unavailable (slot=%s)", field)
        return result

    def _validate_name(self, slot: str, value, dispatcher, tracker):
        name = clean_text(value)
        if contains_nir(name) or EMAIL_IN_TEXT.search(name):
            return invalid_answer(dispatcher, tracker, slot, "Indiquez seulement votre nom, sans numéro ni adresse.")
        if not name or len(name) > MAX_NAME_LENGTH or not NAME_PATTERN.match(name):
            label = "prénom" if slot == "first_name" else "nom de famille"
            return invalid_answer(
                dispatcher,
                tracker,
                slot,
                f"Ce {label} ne semble pas valide : utilisez des lettres, espaces, traits d'union ou "
                f"apostrophes ({MAX_NAME_LENGTH} caractères au plus).",
            )
        return self._store(dispatcher, tracker, slot, name)

    def _validate_email(self, slot: str, value, dispatcher, tracker):
        text = clean_text(value)
        found = EMAIL_IN_TEXT.findall(text)
        email = found[0] if len(found) == 1 else text
        if len(email) > 254 or not EMAIL_PATTERN.match(email) or ".." in email:
            return invalid_answer(
                dispatcher,
                tracker,
                slot,
                "Cette adresse e-mail ne semble pas valide. Écrivez-la sous la forme nom@exemple.fr.",
            )
        local, domain_part = email.rsplit("@", 1)
        return self._store(dispatcher, tracker, slot, f"{local}@{domain_part.lower()}")

    def _validate_description(self, slot: str, value, dispatcher, tracker):
        text = clean_text(value)
        if contains_nir(text):
            return invalid_answer(
                dispatcher,
                tracker,
                slot,
                "Votre réponse semble contenir un numéro de sécurité sociale : il n'est pas nécessaire et je "
                "ne peux pas l'accepter. Décrivez la situation sans ce numéro.",
            )
        if len(text) < 3:
            return invalid_answer(
                dispatcher, tracker, slot, "Votre réponse est trop courte : décrivez-la en quelques mots."
            )
        if len(text) > MAX_DESCRIPTION_LENGTH:
            return invalid_answer(
                dispatcher,
                tracker,
                slot,
                f"Votre réponse est trop longue ({len(text)} caractères) : résumez-la en "
                f"{MAX_DESCRIPTION_LENGTH} caractères au plus.",
            )
        return self._store(dispatcher, tracker, slot, text)

    async def validate_request_confirmed(self, value, dispatcher, tracker, domain):
        if value is True:
            return {"request_confirmed": True, "invalid_answers": 0.0}
        intent = latest_intent(tracker).get("name")
        required = slots_to_ask(self.FORM, domain, tracker)
        if intent == "correct_field":
            field = next(tracker.get_latest_entity_values("request_field"), None)
            if field in required and field != "request_confirmed":
                dispatcher.utter_message(text=f"D'accord, corrigeons {FIELDS[field].label}.")
                return {field: None, "request_confirmed": None, "invalid_answers": 0.0}
        if intent == "deny":
            dispatcher.utter_message(text="D'accord, rien n'est envoyé. Choisissez ce qu'il faut corriger, ou annulez.")
            return {"request_confirmed": None}
        return invalid_answer(
            dispatcher,
            tracker,
            "request_confirmed",
            "Répondez « oui » pour enregistrer la demande, ou choisissez ce qu'il faut corriger.",
        )


# Every field's `extract_<field>` and `validate_<field>`, as rasa_sdk looks them up, from the
# registry: the text answers the requested field; the field's rule validates it.
_RULES = {
    SCOPE: "_validate_scope",
    NAME: "_validate_name",
    EMAIL: "_validate_email",
    DESCRIPTION: "_validate_description",
}


def _extractor(field: str):
    async def extract(self, dispatcher, tracker, domain):
        return self._answer(tracker, field)

    extract.__name__ = f"extract_{field}"
    return extract


def _validator(field: str):
    rule = _RULES[FIELDS[field].validation]

    async def validate(self, value, dispatcher, tracker, domain):
        return getattr(self, rule)(field, value, dispatcher, tracker)

    validate.__name__ = f"validate_{field}"
    return validate


for _field in FIELDS:
    setattr(ValidateRequestForm, f"extract_{_field}", _extractor(_field))
    setattr(ValidateRequestForm, f"validate_{_field}", _validator(_field))

# One validation action per kind: ValidateErasureRequestForm serves validate_erasure_request_form.
for _kind in KINDS.values():
    _class_name = f"Validate{_kind.name.capitalize()}RequestForm"
    globals()[_class_name] = type(_class_name, (ValidateRequestForm,), {"FORM": _kind.form, "__module__": __name__})
