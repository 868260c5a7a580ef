"""Long conversations stay as fast as short ones: a Rasa session ends after SESSION_MAX_MESSAGES.

Rasa re-reads every event of the current session at each turn (tracker store), replays them
into a tracker, computes the dialogue states of the whole session for its policies and sends
the whole session to the action server. A turn therefore costs more as the session grows:
measured on the full stack, the median of messages 190–199 of one conversation was 4.6 times
that of messages 1–10 (docs/benchmarks.md, « Coût selon la longueur »).

A session already ends after SESSION_EXPIRATION_TIME minutes of silence (domain.yml). This
module also ends it after SESSION_MAX_MESSAGES citizen messages, but only at a point where
nothing in progress depends on the earlier turns:
- no form is active (a request, a comment, a message to the team);
- the assistant's last action answered a fact (`action_answer_fact`): every rule that follows a
  fact answer starts from the citizen's next message alone (its buttons are payloads such as
  `/ask_fact{…}` or `/give_feedback{…}`), so no rule needs the previous turn.

The new session keeps the slots the old one had (Rasa's `carry_over_slots_to_new_session` does
so only after a silence, where the project wants a fresh start). Every event stays in the
conversation log: the console shows the conversation whole, whatever its sessions.
`SESSION_MAX_MESSAGES=0` turns the limit off.
"""

from __future__ import annotations

import logging
from typing import Any, List, Optional

logger = logging.getLogger(__name__)

TURN_CLOSING_ACTIONS = frozenset({"action_answer_fact"})
_RENEWED = "_mds_session_renewed_for_length"
_installed = False


def user_messages_in_session(tracker: Any) -> int:
    """Citizen messages since the latest SessionStarted (or since the beginning)."""
    from rasa.shared.core.events import SessionStarted, UserUttered

    count = 0
    for event in reversed(tracker.events):
        if isinstance(event, SessionStarted):
            break
        if isinstance(event, UserUttered):
            count += 1
    return count


def last_action(tracker: Any) -> Optional[str]:
    """The assistant's last action other than listening."""
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted

    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted) and event.action_name != ACTION_LISTEN_NAME:
            return event.action_name
    return None


def should_end_session(tracker: Any, limit: int) -> bool:
    return (
        limit > 0
        and not tracker.active_loop_name
        and last_action(tracker) in TURN_CLOSING_ACTIONS
        and user_messages_in_session(tracker) >= limit
    )


def carried_slots(tracker: Any) -> List[Any]:
    """The slots the session had, set again at the start of the next one."""
    from rasa.shared.core.constants import SESSION_START_METADATA_SLOT
    from rasa.shared.core.events import SlotSet

    return [
        SlotSet(name, slot.value)
        for name, slot in tracker.slots.items()
        if name != SESSION_START_METADATA_SLOT and slot.value != slot.initial_value
    ]


def install() -> None:
    """Patch Rasa's session expiry check and session start action, once."""
    global _installed
    if _installed:
        return
    from rasa.core.actions.action import ActionSessionStart
    from rasa.core.processor import MessageProcessor

    import settings

    has_session_expired = MessageProcessor._has_session_expired
    start_session = ActionSessionStart.run

    def _has_session_expired(self: MessageProcessor, tracker: Any) -> bool:
        if has_session_expired(self, tracker):
            return True
        if should_end_session(tracker, settings.session_max_messages()):
            setattr(tracker, _RENEWED, True)
            logger.debug("session ended after %d messages", settings.session_max_messages())
            return True
        return False

    async def run(self: ActionSessionStart, output_channel, nlg, tracker, domain) -> List[Any]:
        events = await start_session(self, output_channel, nlg, tracker, domain)
        if getattr(tracker, _RENEWED, False) and not domain.session_config.carry_over_slots:
            setattr(tracker, _RENEWED, False)
            events = events[:1] + carried_slots(tracker) + events[1:]
        return events

    MessageProcessor._has_session_expired = _has_session_expired
    ActionSessionStart.run = run
    _installed = True
