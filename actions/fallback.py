"""Honest answers when no fact covers the question (SPEC §3.2: custom.fallback)."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import STARTER_FACT_IDS, fact_buttons, fallback_payload
from training.facts import default_catalogue

REASON_BY_INTENT = {"out_of_scope": "out_of_scope", "nlu_fallback": "low_confidence"}
RESPONSE_BY_REASON = {"out_of_scope": "utter_out_of_scope", "low_confidence": "utter_not_sure"}


class ActionAnswerFallback(Action):
    """Say what the assistant can help with and where to turn instead."""

    def name(self) -> Text:
        return "action_answer_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        reason = REASON_BY_INTENT.get(intent, "not_understood")
        dispatcher.utter_message(
            response=RESPONSE_BY_REASON.get(reason, "utter_not_sure"),
            buttons=fact_buttons(default_catalogue(), STARTER_FACT_IDS),
            json_message=fallback_payload(reason),
        )
        return [SlotSet("last_fact_id", None)]
