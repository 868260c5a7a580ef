"""action_answer_fact answers from the catalogue, and only when confident."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.facts import ActionAnswerFact
from actions.fallback import ActionAnswerFallback
from tests.conftest import make_tracker, selector_for


def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher.messages, events


def test_confident_question_gets_the_fact_with_sources(catalogue):
    tracker = make_tracker(
        "faq", "combien de temps sont gardées mes données", response_selector=selector_for("data_retention", 0.93)
    )
    messages, events = run(ActionAnswerFact(threshold=0.5), tracker)
    assert len(messages) == 1
    message = messages[0]
    fact = catalogue["data_retention"]
    assert message["text"] == fact.answer
    custom = message["custom"]
    assert custom["fact_id"] == "data_retention"
    assert custom["sources"] == [{"title": s.title, "url": s.url} for s in fact.sources]
    assert custom["verified_on"] == fact.verified_on.isoformat()
    assert [b["payload"] for b in message["buttons"]] == [
        f'/ask_fact{{"fact_id":"{related}"}}' for related in fact.related
    ]
    assert events == [{"event": "slot", "timestamp": None, "name": "last_fact_id", "value": "data_retention"}]


def test_low_confidence_gives_no_fact():
    tracker = make_tracker("faq", "truc", response_selector=selector_for("cloud_act", 0.31))
    messages, events = run(ActionAnswerFact(threshold=0.5), tracker)
    assert messages[0]["custom"] == {"fallback": "low_confidence"}
    assert "fact_id" not in messages[0]["custom"]
    assert messages[0]["response"] == "utter_not_sure"
    assert events[0]["value"] is None


def test_button_payload_names_the_fact(catalogue):
    tracker = make_tracker(
        "ask_fact", '/ask_fact{"fact_id":"consent"}', entities=[{"entity": "fact_id", "value": "consent"}]
    )
    messages, _ = run(ActionAnswerFact(threshold=0.5), tracker)
    assert messages[0]["custom"]["fact_id"] == "consent"


@pytest.mark.parametrize("forged", ["no_such_fact", "../../etc/passwd", "<script>", ""])
def test_forged_button_payload_is_not_trusted(forged):
    tracker = make_tracker("ask_fact", "/ask_fact", entities=[{"entity": "fact_id", "value": forged}])
    messages, _ = run(ActionAnswerFact(threshold=0.5), tracker)
    assert messages[0]["custom"] == {"fallback": "low_confidence"}


def test_missing_response_selector_output_is_a_fallback():
    messages, _ = run(ActionAnswerFact(threshold=0.5), make_tracker("faq", "x"))
    assert messages[0]["custom"] == {"fallback": "low_confidence"}


@pytest.mark.parametrize(
    "intent, reason, response",
    [("out_of_scope", "out_of_scope", "utter_out_of_scope"), ("nlu_fallback", "low_confidence", "utter_not_sure")],
)
def test_fallback_says_why_and_suggests_topics(intent, reason, response):
    messages, events = run(ActionAnswerFallback(), make_tracker(intent, "j'ai mal au dos"))
    assert messages[0]["custom"] == {"fallback": reason}
    assert messages[0]["response"] == response
    assert messages[0]["buttons"], "suggestions are offered"
    assert events[0]["name"] == "last_fact_id" and events[0]["value"] is None


@pytest.mark.parametrize("kind", ["erasure", "rectification", "access", "objection"])
def test_a_right_fact_offers_to_start_the_request(kind):
    tracker = make_tracker("faq", "x", response_selector=selector_for(f"right_{kind}", 0.9))
    messages, _ = run(ActionAnswerFact(threshold=0.5), tracker)
    assert messages[0]["buttons"][0]["payload"] == f"/request_{kind}"
    assert messages[0]["custom"]["fact_id"] == f"right_{kind}"
