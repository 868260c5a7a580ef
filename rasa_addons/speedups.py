"""Two hot spots of the Rasa 3.6 server, removed without changing what Rasa does.

Found by profiling the server under load (`make bench`, section « Où part le temps »):

- every reply of the action server is checked against Rasa's response schema with
  ``jsonschema.validate``, which first re-checks the schema itself against the JSON-Schema
  meta-schema and builds a new validator: about 15 ms of CPU per custom action call, a
  quarter of the server's time. Here the schema is checked once and its validator reused;
  an invalid response is still rejected with the same error.
- ``Event.resolve_by_type`` walks the whole ``Event`` class tree for every stored event it
  deserialises. Here a found type is remembered (event classes are defined at import time).
- Rasa's ``SpacyNLP`` runs spaCy's named-entity recogniser on every message, half of
  spaCy's time, although no component of ours reads spaCy entities (tokens, lemmas,
  part-of-speech tags and word vectors are unchanged without it). Here it is switched off.

- ``action_answer_fact`` and ``action_answer_fallback``, the actions of almost every turn,
  run in the Rasa server instead of a round trip to the action server with the whole session
  serialised (``rasa_addons.local_actions``).

The masking tracker store also reads the latest session with plain SQL instead of Rasa's
ORM query (see ``rasa_addons.tracker_store``).

`apply()` is idempotent; the modules Rasa loads from ``endpoints.yml`` and
``credentials.yml`` call it, so it is in effect in every Rasa server of the project.
``RASA_SPEEDUPS=0`` leaves Rasa exactly as it is (used by the benchmark as a baseline, and
an escape hatch should a Rasa upgrade change these internals).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Text, Type

import settings
from rasa_addons import local_actions

logger = logging.getLogger(__name__)
_applied = False


def enabled() -> bool:
    return settings.rasa_speedups_enabled()


def _cached_action_result_validation() -> None:
    from jsonschema import validators
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
        error = best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            f"from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error

    _validate_action_result.__doc__ = "Validate an action server response with a validator built once."
    RemoteAction._validate_action_result = _validate_action_result


def _cached_event_types() -> None:
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    known: Dict[Text, Type[Event]] = {}

    def resolve_by_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
        found = known.get(type_name)
        if found is None:
            found = original(type_name, default)
            if found is not None and found is not default:
                known[type_name] = found
        return found

    Event.resolve_by_type = staticmethod(resolve_by_type)


def _spacy_without_entity_recognition() -> None:
    from rasa.nlu.utils.spacy_utils import SpacyModel, SpacyNLP

    original = SpacyNLP.load_model

    def load_model(spacy_model_name: Text) -> SpacyModel:
        model = original(spacy_model_name)
        if "ner" in model.model.pipe_names:
            model.model.disable_pipe("ner")
            logger.info("spaCy %s: named-entity recogniser switched off (unused)", spacy_model_name)
        return model

    SpacyNLP.load_model = staticmethod(load_model)


def apply() -> None:
    global _applied
    if _applied or not enabled():
        return
    _cached_action_result_validation()
    _cached_event_types()
    _spacy_without_entity_recognition()
    local_actions.install()
    _applied = True
