"""Answer a citizen's question with a curated fact, or admit that none covers it."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import settings
from actions.replies import STARTER_FACT_IDS, fact_buttons, fallback_payload
from conversations.feedback import feedback_offer, new_answer_id
from gdpr.kinds import KINDS
from training.facts import Catalogue, default_catalogue
from training.nlu_data import RETRIEVAL_INTENT

logger = logging.getLogger(__name__)


def selected_fact_id(tracker: Tracker) -> "tuple[Optional[str], float]":
    """The fact the NLU picked for the latest message, with its confidence."""
    message = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name")
    if intent == "ask_fact":
        # A suggestion button: the fact id is an entity, checked against the catalogue.
        fact_id = next(tracker.get_latest_entity_values("fact_id"), None)
        return fact_id, 1.0
    selector = (message.get("response_selector") or {}).get(RETRIEVAL_INTENT) or {}
    response = selector.get("response") or {}
    key = response.get("intent_response_key") or ""
    if not key.startswith(f"{RETRIEVAL_INTENT}/"):
        return None, 0.0
    return key.split("/", 1)[1], float(response.get("confidence") or 0.0)


class ActionAnswerFact(Action):
    """Answer from the fact catalogue: text, sources, verification date, suggestions."""

    def __init__(self, catalogue: Optional[Catalogue] = None, threshold: Optional[float] = None):
        # Below the threshold the assistant says it is not sure rather than risk a wrong fact.
        self._catalogue = catalogue
        self.threshold = settings.fact_confidence_threshold() if threshold is None else threshold

    @property
    def catalogue(self) -> Catalogue:
        return self._catalogue or default_catalogue()

    def name(self) -> Text:
        return "action_answer_fact"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        fact_id, confidence = selected_fact_id(tracker)
        fact = self.catalogue.get(fact_id)
        if fact is None or confidence < self.threshold:
            logger.info("fact not answered: fact_id=%s confidence=%.3f", fact_id, confidence)
            dispatcher.utter_message(
                response="utter_not_sure",
                buttons=fact_buttons(self.catalogue, STARTER_FACT_IDS),
                json_message=fallback_payload("low_confidence"),
            )
            return [SlotSet("last_fact_id", None)]
        buttons = fact_buttons(self.catalogue, fact.related)
        if fact.offers_request:
            buttons.insert(
                0, {"title": KINDS[fact.offers_request].offer_title, "payload": f"/request_{fact.offers_request}"}
            )
        payload = {**fact.payload(), "feedback": feedback_offer(fact.id, new_answer_id())}
        # An extra keyword of utter_message becomes the bot event's metadata in Rasa
        # (create_bot_utterance): stored with the event, beside the `model_id` Rasa adds, and not
        # sent to the citizen's channel, so the reply contract (SPEC §3.2) is unchanged.
        dispatcher.utter_message(
            text=fact.answer, buttons=buttons, json_message=payload, catalogue_version=self.catalogue.version
        )
        return [SlotSet("last_fact_id", fact.id)]
