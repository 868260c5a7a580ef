"""No sequence of messages may leave a conversation unusable.

Rasa 3.6 stops a turn after ``MAX_NUMBER_OF_PREDICTIONS`` (10) actions without listening
(its "circuit breaker") but stores no ``action_listen``: at the next message it counts the
same ten actions again and gives up at once, so every later message of that conversation
goes unanswered. A form that keeps rejecting an answer was enough to get there.

Here, when the breaker trips, the conversation is put back in a state where it listens:
any active form is left (its draft stays in the application database), the citizen is told
plainly, and an ``action_listen`` ends the turn. ``install()`` is called by the modules the
Rasa server loads from ``credentials.yml``; it is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

logger = logging.getLogger(__name__)
_installed = False

RECOVERY_MESSAGE = (
    "Je me suis embrouillé et j'ai interrompu ce que nous faisions ; rien de ce que vous m'avez dit n'est "
    "perdu. Reformulez votre question, ou écrivez « statut de ma demande » ou « je veux … » pour "
    "reprendre une démarche."
)


def recover(tracker: Any, output_channel: Any, _nlg: Any) -> None:
    """Rasa's ``on_circuit_break`` callback: leave the loop, say so, and listen again."""
    from rasa.shared.core.constants import ACTION_LISTEN_NAME, REQUESTED_SLOT
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet

    logger.warning(
        "circuit breaker tripped: conversation reset to listening (form left: %s)", tracker.active_loop_name or "none"
    )
    if tracker.active_loop_name:
        tracker.update(ActiveLoop(None))
    tracker.update(SlotSet(REQUESTED_SLOT, None))
    tracker.update(BotUttered(RECOVERY_MESSAGE, {"custom": {"fallback": "circuit_breaker"}}))
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
    # The callback is synchronous: a collecting channel (REST) takes the message at once,
    # a streaming one (socket.io) gets it sent from the event loop.
    messages = getattr(output_channel, "messages", None)
    if isinstance(messages, list):
        messages.append({"recipient_id": tracker.sender_id, "text": RECOVERY_MESSAGE})
        messages.append({"recipient_id": tracker.sender_id, "custom": {"fallback": "circuit_breaker"}})
    else:
        asyncio.get_event_loop().create_task(output_channel.send_text_message(tracker.sender_id, RECOVERY_MESSAGE))


def install() -> None:
    global _installed
    if _installed:
        return
    from rasa.core.processor import MessageProcessor

    original_init = MessageProcessor.__init__

    def __init__(self: MessageProcessor, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if self.on_circuit_break is None:
            self.on_circuit_break = recover

    MessageProcessor.__init__ = __init__
    _installed = True
