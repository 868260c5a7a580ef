"""The profiled hot spots are faster but decide exactly as Rasa does."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses

from rasa_addons import speedups as rasa_speedups

rasa_speedups.apply()

ANSWER = {
    "text": "Le SNDS réunit les données de l'Assurance maladie.",
    "buttons": [{"title": "Qui y accède ?", "payload": "/faq_snds_access"}],
    "custom": {"fact_id": "snds_definition", "sources": [{"title": "SNDS", "url": "https://www.snds.gouv.fr"}]},
}
RESPONSES = [
    {"events": [], "responses": []},
    {
        "events": [{"event": "slot", "name": "last_fact_id", "value": "snds_definition", "timestamp": None}],
        "responses": [ANSWER],
    },
    {
        "events": [{"event": "active_loop", "name": "erasure_request_form"}, {"event": "followup", "name": "x"}],
        "responses": [ANSWER, ANSWER],
    },
    # invalid ones: Rasa must keep rejecting them
    {"events": "slot", "responses": []},
    {"events": [{"event": "slot", "name": 3}], "responses": []},
    {"events": [{"event": "no_such_event"}], "responses": []},
    {"events": [], "responses": ["a bare string"]},
    {"events": [{"event": "user", "text": ["not", "a", "text"]}]},
]


def rasa_original_decision(result) -> bool:
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
        return True
    except jsonschema.ValidationError:
        return False


@pytest.mark.parametrize("result", RESPONSES)
def test_action_response_validation_decides_like_rasa(result):
    action = RemoteAction("action_answer_fact", None)
    expected = rasa_original_decision(result)
    if expected:
        assert action._validate_action_result(result) is True
    else:
        with pytest.raises(jsonschema.ValidationError) as raised:
            action._validate_action_result(result)
        assert "Failed to validate Action server response" in raised.value.message


def test_some_sample_responses_are_invalid():
    """The table above really exercises both outcomes."""
    decisions = [rasa_original_decision(r) for r in RESPONSES]
    assert True in decisions and False in decisions


def test_event_types_resolve_like_rasa():
    import rasa.core.test  # noqa: F401 - defines EndToEndUserUtterance, a second class named "user"

    subclasses = all_subclasses(Event)
    for cls in subclasses:
        # Rasa's own lookup: the first subclass, in all_subclasses order, with that type name.
        expected = next(c for c in subclasses if c.type_name == cls.type_name)
        assert Event.resolve_by_type(cls.type_name) is expected
        assert Event.resolve_by_type(cls.type_name) is expected  # second call, from the cache
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", default=BotUttered) is BotUttered
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")


def test_events_still_round_trip():
    events = [
        UserUttered("bonjour", {"name": "greet", "confidence": 0.9}),
        ActionExecuted("utter_greet"),
        BotUttered("Bonjour !"),
        SlotSet("last_fact_id", "snds_definition"),
    ]
    assert [Event.from_parameters(e.as_dict()) for e in events] == events


def test_spacy_without_entity_recognition_gives_the_same_features():
    """What Rasa's spaCy components read is unchanged when the unused NER is off."""
    import numpy as np
    from rasa.nlu.utils.spacy_utils import SpacyNLP

    from bench.quality import HELDOUT
    from training.evaluation import load_examples

    lean = SpacyNLP.load_model("fr_core_news_md").model
    assert "ner" not in lean.pipe_names and "ner" in lean.disabled
    import spacy

    full = spacy.load("fr_core_news_md", disable=["parser"])  # what Rasa itself loads
    for example in load_examples(HELDOUT):
        a, b = lean(example.text), full(example.text)
        assert [(t.text, t.lemma_, t.pos_, t.tag_, t.idx) for t in a] == [
            (t.text, t.lemma_, t.pos_, t.tag_, t.idx) for t in b
        ]
        assert np.array_equal(a.vector, b.vector)


def test_speedups_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("RASA_SPEEDUPS", "0")
    assert not rasa_speedups.enabled()
    monkeypatch.setenv("RASA_SPEEDUPS", "1")
    assert rasa_speedups.enabled()


def _import_orders(*commands) -> list:
    """For each `python -m <module> <arguments>`, run side by side in fresh processes, the modules
    in the order their import finished."""
    import subprocess
    import sys

    from settings import PROJECT_ROOT

    processes = [
        subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", *command],
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    orders = []
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        orders.append(
            [line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")]
        )
    return orders


def test_the_launchers_import_the_classifier_format_before_rasa():
    """Imported after Rasa and TensorFlow, skops.io spends about 17 s scanning every loaded module
    (rasa_addons.import_classifier_format): each server start, training and `rasa test` paid it."""
    launchers = ["rasa_addons.rasa_cli", "rasa_addons.rasa_server"]
    for launcher, order in zip(
        launchers, _import_orders(*([launcher, "--help"] for launcher in launchers)), strict=True
    ):
        assert "skops.io" in order, (launcher, order[-20:])
        first_rasa = next(i for i, name in enumerate(order) if name.startswith(("rasa.", "tensorflow")))
        assert order.index("skops.io") < first_rasa, (launcher, order[first_rasa - 5 : first_rasa + 5])
