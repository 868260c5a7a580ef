"""Record a citizen's « Cette réponse vous a-t-elle aidé ? » (conversations.feedback)."""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.request_common import repository
from conversations import feedback
from gdpr.requests import StorageUnavailable
from training.facts import default_catalogue

logger = logging.getLogger(__name__)

_ANSWER_ID = re.compile(r"^[0-9a-f]{6,32}$")


def _entity(tracker: Tracker, name: str) -> Optional[str]:
    value = next(tracker.get_latest_entity_values(name), None)
    return value if isinstance(value, str) else None


class ActionRecordFeedback(Action):
    def name(self) -> Text:
        return "action_record_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        answer_id, fact_id = _entity(tracker, "answer_id"), _entity(tracker, "fact_id")
        helpful, reason = _entity(tracker, "helpful"), _entity(tracker, "reason")
        if (
            not answer_id
            or not _ANSWER_ID.match(answer_id)
            or default_catalogue().get(fact_id) is None
            or helpful not in ("yes", "no")
            or (reason is not None and reason not in feedback.REASONS)
        ):
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
                text="Merci, c'est enregistré : l'équipe relira cette réponse. Vous pouvez poser une autre question."
            )
        return []
