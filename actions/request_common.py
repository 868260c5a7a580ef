"""What the request actions share: the repository, answer clean-up, form progress, digressions,
the invalid-answer and storage-unavailable replies, and the request's machine-readable payload."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import unicodedata
from typing import Any, Dict, List, Optional
from zoneinfo import ZoneInfo

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

import settings
from gdpr.kinds import ALL_FIELDS, KIND_BY_FORM
from gdpr.requests import RequestRepository, StoredRequest
from mail.outbox import send_now
from training.nlu_data import RETRIEVAL_INTENT

logger = logging.getLogger(__name__)

STATUS_FORM = "request_status_form"
CODE_VERIFIED = "vérifiée"  # the email_code slot once the right code was typed
MAX_INVALID_ANSWERS = 3
EMAIL_PATTERN = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
REFERENCE_PATTERN = re.compile(r"\bHDH-\d{4}-\d{6}\b", re.IGNORECASE)
# Intents that, phrased as a question, interrupt a form for an answer (then it resumes).
DIGRESSION_INTENTS = (RETRIEVAL_INTENT, "out_of_scope")
DIGRESSION_CONFIDENCE = 0.8


def repository() -> RequestRepository:
    return RequestRepository(settings.database_url())


def clean_text(value: Any) -> str:
    """Normalise a typed answer: NFC, no control characters, single spaces."""
    text = unicodedata.normalize("NFC", str(value or ""))
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(text.split())


def slots_to_ask(form: str, domain: DomainDict, tracker: Optional[Tracker] = None) -> List[str]:
    """The form's slots still to be asked for this conversation: the domain's list, without the
    fields the law does not require for the data concerned (gdpr.kinds, e.g. no reason for an
    objection about the SNDS)."""
    required = list(domain.get("forms", {}).get(form, {}).get("required_slots", []))
    kind = KIND_BY_FORM.get(form)
    if kind is None or tracker is None:
        return required
    skipped = kind.fields_not_asked(tracker.get_slot("data_scope"))
    return [s for s in required if s not in skipped]


def form_progress(form: str, slot: str, domain: DomainDict, tracker: Optional[Tracker] = None) -> Dict[str, Any]:
    required = slots_to_ask(form, domain, tracker)
    step = required.index(slot) + 1 if slot in required else 1
    return {"name": form, "step": step, "steps": len(required)}


def latest_intent(tracker: Tracker) -> Dict[str, Any]:
    return tracker.latest_message.get("intent") or {}


def is_digression(tracker: Tracker) -> bool:
    """The latest message is not an answer: a cancel, a suggestion button, or a question."""
    text = tracker.latest_message.get("text") or ""
    intent = latest_intent(tracker)
    if intent.get("name") in ("cancel", "ask_fact"):
        return True
    return (
        intent.get("name") in DIGRESSION_INTENTS
        and float(intent.get("confidence") or 0) >= DIGRESSION_CONFIDENCE
        and "?" in text
    )


def invalid_answer(dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, message: str) -> Dict[str, Any]:
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


def tell_storage_unavailable(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(
        text=(
            "Le service d'enregistrement est momentanément indisponible : votre réponse n'a pas pu être "
            "conservée. Réessayez dans quelques minutes."
        ),
        json_message={"error": "storage_unavailable"},
    )


def tell_code_sending(dispatcher: CollectingDispatcher, result, email: str) -> None:
    """Say what happened to a code sending (gdpr.verification.SendResult), and only that."""
    from gdpr.verification import ADDRESS_REFUSED, CODE_VALIDITY, RATE_LIMITED, SENT

    minutes = int(CODE_VALIDITY.total_seconds() // 60)
    if result.outcome == SENT:
        text = (
            f"Je viens d'envoyer un code à 6 chiffres à {email}. Saisissez-le ici pour confirmer votre adresse : "
            f"votre demande sera enregistrée ensuite. Il est valable {minutes} minutes ; pensez à regarder dans "
            "les courriers indésirables."
        )
    elif result.outcome == RATE_LIMITED:
        text = (
            "Vous avez déjà demandé 3 codes en une heure : pour protéger votre adresse, je ne peux pas en envoyer "
            f"d'autre avant {format_time(result.retry_after)}. Le dernier code reçu reste valable 10 minutes "
            "après son envoi."
        )
    elif result.outcome == ADDRESS_REFUSED:
        text = (
            "Le serveur de messagerie de cette adresse a refusé le message : vérifiez-la avec « Corriger "
            "l'adresse e-mail ». Rien n'est enregistré pour l'instant."
        )
    else:  # SEND_FAILED
        text = (
            "Je n'ai pas pu envoyer le code : le service d'envoi des e-mails ne répond pas pour le moment. Vos "
            "réponses sont conservées ; réessayez dans quelques minutes avec « Renvoyer le code »."
        )
    dispatcher.utter_message(text=text)


PARIS = ZoneInfo("Europe/Paris")


def format_date(value) -> str:
    """dd/mm/yyyy; a moment is shown in Paris time."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(PARIS)
    return value.strftime("%d/%m/%Y")


def format_time(value: dt.datetime) -> str:
    return value.astimezone(PARIS).strftime("%H h %M")


def letter_url(request: StoredRequest) -> str:
    return f"{settings.public_web_url()}/lettre/{request.reference}?cle={request.letter_key}"


def request_payload(request: StoredRequest) -> Dict[str, Any]:
    return {
        "reference": request.reference,
        "kind": request.kind,
        "status": request.status,
        "received_on": request.received_at.astimezone(PARIS).date().isoformat(),
        # None while the deadline has not started: it runs from the controller's receipt.
        "deadline": request.deadline.isoformat() if request.deadline else None,
        "transmitted_on": request.transmitted_on.isoformat() if request.transmitted_on else None,
        "controller": request.controller,
        "letter_url": letter_url(request),
    }


def status_payload(request: StoredRequest) -> Dict[str, Any]:
    """What a status reply carries: the request without its letter link (SPEC §3.3)."""
    return {k: v for k, v in request_payload(request).items() if k != "letter_url"}


FORM_SLOTS_TO_RESET = (*ALL_FIELDS, "request_confirmed", "email_code", "invalid_answers", "requested_slot")


def reset_form_slots() -> List[EventType]:
    return [SlotSet(slot, 0.0 if slot == "invalid_answers" else None) for slot in FORM_SLOTS_TO_RESET]


async def send_acknowledgement_now(database_url: str, key: str) -> bool:
    """Try to send an acknowledgement queued with what it acknowledges; True once it has left.
    On failure it stays queued: the sender process (mail.sender) retries it."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, send_now, database_url, key)
    except Exception:  # noqa: BLE001 - what it acknowledges is recorded; the sender retries the e-mail
        logger.warning("acknowledgement not sent at once; it stays queued", exc_info=True)
        return False
