"""The two actions of almost every turn run inside the Rasa server, without the action server.

A fact answer (`action_answer_fact`) or an honest fallback (`action_answer_fallback`) reads
only the citizen's latest message, as the NLU parsed it, and the fact catalogue: no database,
no e-mail, nothing private to the action server. Through the action server, each of them cost
the Rasa server a JSON dump of the whole session (every event), an HTTP round trip, the action
server's own parse of it, and the validation of its answer: the largest remaining gap with a
plain Rasa bot (`make bench`, « Vitesse de service »).

Here the same `rasa_sdk` action objects (the classes in `actions/`, unchanged) run in the Rasa
server process, through Rasa's own path for an action server's answer
(`RemoteAction._utter_responses`, then `deserialise_events`): responses are rendered from the
domain by the same NLG, buttons and `custom` payloads are attached the same way, so the replies
and events are those the action server would have given (SPEC §3.2; checked by
tests/test_local_actions.py against the action server itself).

What such an action sees: the sender id, the slots, the latest message with its parse data,
the active loop, the latest action, and the events of the current turn only (from the
citizen's latest message on) — not the session's history. An action that needs more, or that
touches the database, stays on the action server: only the names in `LOCAL_ACTIONS` run here.

Every other custom action (forms, requests, feedback, status) still goes to the action server,
with its token. `RASA_SPEEDUPS=0` sends these two there as well. Their time is reported by the
Rasa server's `/metrics` as `mds_action_seconds`, the histogram the action server uses.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, List, Optional, Text

logger = logging.getLogger(__name__)

# Actions that read only the latest message, the slots and the catalogue (see the module doc).
LOCAL_ACTIONS: Dict[str, Callable[[], Any]] = {}


def _register_defaults() -> None:
    from actions.facts import ActionAnswerFact
    from actions.fallback import ActionAnswerFallback

    LOCAL_ACTIONS.setdefault("action_answer_fact", ActionAnswerFact)
    LOCAL_ACTIONS.setdefault("action_answer_fallback", ActionAnswerFallback)


def sdk_tracker(tracker: Any) -> Any:
    """A rasa_sdk Tracker of the current turn: everything `current_state` gives but the events
    before the citizen's latest message (serialising the session is what this module avoids)."""
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import EventVerbosity
    from rasa_sdk import Tracker

    state = tracker.current_state(EventVerbosity.NONE)
    turn: List[Dict[Text, Any]] = []
    for event in reversed(tracker.events):
        turn.append(event.as_dict())
        if isinstance(event, UserUttered):
            break
    state["events"] = list(reversed(turn))
    return Tracker.from_dict(state)


class _DomainAsDict:
    """`Domain.as_dict()` of the latest domain, computed once (a model reload brings a new one)."""

    def __init__(self) -> None:
        self._domain: Any = None
        self._as_dict: Dict[Text, Any] = {}

    def __call__(self, domain: Any) -> Dict[Text, Any]:
        if domain is not self._domain:
            self._as_dict = domain.as_dict()
            self._domain = domain
        return self._as_dict


_domain_as_dict = _DomainAsDict()


def local_action_class() -> type:
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core import events as rasa_events
    from rasa_sdk.executor import CollectingDispatcher

    from metrics.action_server import ACTION_ERRORS, ACTION_SECONDS

    class LocalAction(RemoteAction):
        """A project action run in the Rasa server, answered as if from the action server."""

        def __init__(self, sdk_action: Any, action_endpoint: Any) -> None:
            super().__init__(sdk_action.name(), action_endpoint)
            self.sdk_action = sdk_action

        async def run(self, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Any]:
            dispatcher = CollectingDispatcher()
            started = time.perf_counter()
            try:
                events = await self.sdk_action.run(dispatcher, sdk_tracker(tracker), _domain_as_dict(domain))
            except Exception:
                ACTION_ERRORS.labels(self.name()).inc()
                raise
            finally:
                ACTION_SECONDS.labels(self.name()).observe(time.perf_counter() - started)
            bot_messages = await self._utter_responses(dispatcher.messages, output_channel, nlg, tracker)
            return [*bot_messages, *rasa_events.deserialise_events(events or [])]

    return LocalAction


_local_action: Optional[type] = None
_sdk_actions: Dict[str, Any] = {}  # one instance per name, as the action server keeps


def local_action(name: str, action_endpoint: Any) -> Optional[Any]:
    """The in-process action for `name`, or None when it must go to the action server."""
    global _local_action
    factory = LOCAL_ACTIONS.get(name)
    if factory is None:
        return None
    if _local_action is None:
        _local_action = local_action_class()
    if name not in _sdk_actions:
        _sdk_actions[name] = factory()
    return _local_action(_sdk_actions[name], action_endpoint)


def install() -> None:
    """Route LOCAL_ACTIONS to the Rasa server process (idempotent)."""
    import rasa.core.actions.action as rasa_actions

    if getattr(rasa_actions.action_for_name_or_text, "runs_local_actions", False):
        return
    _register_defaults()
    original = rasa_actions.action_for_name_or_text

    def action_for_name_or_text(action_name_or_text: Text, domain: Any, action_endpoint: Any) -> Any:
        action = original(action_name_or_text, domain, action_endpoint)
        if type(action) is rasa_actions.RemoteAction:
            local = local_action(action_name_or_text, action_endpoint)
            if local is not None:
                return local
        return action

    action_for_name_or_text.runs_local_actions = True
    rasa_actions.action_for_name_or_text = action_for_name_or_text
    logger.info("actions run in the Rasa server: %s", ", ".join(sorted(LOCAL_ACTIONS)))
