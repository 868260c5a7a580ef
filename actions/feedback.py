"""Record a citizen's « Cette réponse vous a-t-elle aidé ? » (conversations.feedback)."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.request_common import repository
from conversations import feedback
from gdpr.requests import StorageUnavailable

logger = logging.getLogger(__name__)
WRITE_TO_THE_TEAM = {"title": "Écrire à l'équipe", "payload": "/contact_team"}


def _entity(tracker: Tracker, name: str) -> Optional[str]:
    value = next(tracker.get_latest_entity_values(name), None)
    return value if isinstance(value, str) else None


class ActionRecordFeedback(Action):
    def name(self) -> Text:
        return "action_record_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        given = {name: _entity(tracker, name) for name in ("answer_id", "fact_id", "helpful", "reason")}
        answer_id, fact_id, helpful, reason = given.values()
        if not feedback.valid_entities(feedback.INTENT, {k: v for k, v in given.items() if v is not None}):
            dispatcher.utter_message(text="Je n'ai pas pu lire votre avis. Vous pouvez poser une autre question.")
            return []
        try:
            feedback.record(repository().engine, tracker.sender_id, answer_id, fact_id, helpful == "yes", reason=reason)
        except (StorageUnavailable, SQLAlchemyError) as error:
            logger.error("feedback not recorded: %s", type(error).__name__)
            dispatcher.utter_message(
                text="Votre avis n'a pas pu être enregistré pour le moment. Merci quand même ; "
                "vous pouvez poser une autre question."
            )
            return []
        if helpful == "yes":
            dispatcher.utter_message(text="Merci, votre avis est enregistré.")
        elif reason is None:
            dispatcher.utter_message(
                text="Merci, votre avis est enregistré. Qu'est-ce qui n'allait pas ?",
                buttons=feedback.reason_buttons(fact_id, answer_id),
            )
        else:
            dispatcher.utter_message(
                text="Merci, c'est enregistré : l'équipe relira cette réponse. Vous pouvez ajouter un commentaire, "
                "poser une autre question, ou écrire à l'équipe pour qu'une personne vous réponde par e-mail.",
                buttons=[feedback.comment_button(fact_id, answer_id), WRITE_TO_THE_TEAM],
            )
        return []


class ActionRecordFeedbackComment(Action):
    """After feedback_comment_form: the comment itself stays in the conversation log (masked)."""

    def name(self) -> Text:
        return "action_record_feedback_comment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        answer_id = tracker.get_slot("feedback_answer")
        comment = (tracker.get_slot("feedback_comment") or "").strip()
        reset = [SlotSet("feedback_comment", None), SlotSet("feedback_answer", None), SlotSet("feedback_fact", None)]
        if not comment or comment.lower().strip(" .!") in feedback.CANCEL_WORDS:
            dispatcher.utter_message(text="D'accord, pas de commentaire. Vous pouvez poser une autre question.")
            return reset
        try:
            marked = bool(answer_id and feedback.ANSWER_ID.match(answer_id)) and feedback.mark_commented(
                repository().engine, tracker.sender_id, answer_id
            )
        except (StorageUnavailable, SQLAlchemyError) as error:
            logger.error("feedback comment not recorded: %s", type(error).__name__)
            marked = False
        if marked:
            dispatcher.utter_message(
                text="Merci, votre commentaire est enregistré avec la conversation (noms, adresses et détails de "
                "santé y sont masqués automatiquement). Vous pouvez poser une autre question."
            )
        else:
            dispatcher.utter_message(
                text="Votre commentaire n'a pas pu être rattaché à votre avis. Vous pouvez poser une autre question."
            )
        return reset
