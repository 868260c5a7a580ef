"""Honest answers when no fact covers the question, or when the assistant hesitates.

SPEC §3.2: `custom.fallback` gives the reason; with « Vouliez-vous dire… ? » it is "ambiguous"
and `custom.candidates` lists the offered readings in order (fact ids, or form names for a
request), with one button each and « Autre chose ». Never a fact id in these replies.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import STARTER_FACT_IDS, fact_button, fact_buttons, fallback_payload
from gdpr.kinds import KIND_BY_INTENT, KINDS
from training.facts import default_catalogue

REASON_BY_INTENT = {"out_of_scope": "out_of_scope", "nlu_fallback": "low_confidence", "something_else": "none_of_these"}
RESPONSE_BY_REASON = {"out_of_scope": "utter_out_of_scope", "low_confidence": "utter_not_sure"}
SOMETHING_ELSE_BUTTON = {"title": "Autre chose", "payload": "/something_else"}
# « Écrire à l'équipe »: a question no fact answers can be left for the team (contact_team_form).
WRITE_TO_THE_TEAM_BUTTON = {"title": "Écrire à l'équipe", "payload": "/contact_team"}
FACT_LABEL = "faq/"


def candidate_choices(labels: List[str]) -> List[Dict[str, str]]:
    """The readings to offer, as {id, title, payload}; unknown labels are dropped."""
    catalogue = default_catalogue()
    choices = []
    for label in labels:
        if label.startswith(FACT_LABEL) and label[len(FACT_LABEL) :] in catalogue:
            fact = catalogue[label[len(FACT_LABEL) :]]
            choices.append({"id": fact.id, **fact_button(fact)})
        elif label in KIND_BY_INTENT:
            kind = KIND_BY_INTENT[label]
            choices.append({"id": kind.form, "title": kind.offer_title, "payload": f"/{kind.intent}"})
    return choices


def out_of_scope_response(tracker: Tracker) -> str:
    """utter_out_of_scope/<kind> when the NLU said which kind of off-topic message it is."""
    selector = ((tracker.latest_message.get("response_selector") or {}).get("out_of_scope") or {}).get("response") or {}
    key = selector.get("intent_response_key") or ""
    return f"utter_{key}" if key.startswith("out_of_scope/") else "utter_out_of_scope"


class ActionAnswerFallback(Action):
    """Say what the assistant can help with and where to turn instead, or ask which reading
    the citizen meant."""

    def name(self) -> Text:
        return "action_answer_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        message = tracker.latest_message or {}
        intent = (message.get("intent") or {}).get("name")
        reason = REASON_BY_INTENT.get(intent, "not_understood")
        choices = candidate_choices(list(message.get("candidates") or [])) if intent == "nlu_fallback" else []
        if choices:
            self._ask_which(dispatcher, choices)
            return [SlotSet("last_fact_id", None)]
        response: Optional[str] = RESPONSE_BY_REASON.get(reason, "utter_not_sure")
        if reason == "out_of_scope":
            response = out_of_scope_response(tracker)
        dispatcher.utter_message(
            response=response,
            buttons=fact_buttons(default_catalogue(), STARTER_FACT_IDS) + [WRITE_TO_THE_TEAM_BUTTON],
            json_message=fallback_payload(reason),
        )
        return [SlotSet("last_fact_id", None)]

    @staticmethod
    def _ask_which(dispatcher: CollectingDispatcher, choices: List[Dict[str, str]]) -> None:
        payload = {**fallback_payload("ambiguous"), "candidates": [c["id"] for c in choices]}
        buttons = [{"title": c["title"], "payload": c["payload"]} for c in choices]
        only = choices[0]["id"] if len(choices) == 1 else None
        kind = next((k for k in KINDS.values() if k.form == only), None)
        if kind is not None:
            # A wish the assistant is not sure of: ask before pulling anyone into a legal procedure.
            buttons = [
                {"title": "Oui, commencer la demande", "payload": f"/{kind.intent}"},
                {"title": "Non, autre chose", "payload": SOMETHING_ELSE_BUTTON["payload"]},
            ]
            dispatcher.utter_message(
                response="utter_confirm_wish",
                request_label=kind.label,
                request_article=kind.article,
                buttons=buttons,
                json_message=payload,
            )
            return
        dispatcher.utter_message(
            response="utter_ambiguous", buttons=buttons + [SOMETHING_ELSE_BUTTON], json_message=payload
        )
