"""« Vouliez-vous dire… ? », the confirmation of an unsure wish, and off-topic kinds (SPEC §3.2)."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionAnswerFallback
from tests.conftest import make_tracker


def run(tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionAnswerFallback().run(dispatcher, tracker, {}))
    return dispatcher.messages, events


def hesitating(candidates, text="c'est quoi la procédure pour faire corriger une erreur ?"):
    tracker = make_tracker("nlu_fallback", text, intent_confidence=0.4)
    tracker.latest_message["candidates"] = candidates
    return tracker


def test_close_readings_are_offered_as_buttons_with_something_else():
    messages, events = run(
        hesitating(["faq/right_rectification", "request_rectification", "faq/data_access_procedure"])
    )
    custom = messages[0]["custom"]
    assert custom == {
        "fallback": "ambiguous",
        "candidates": ["right_rectification", "rectification_request_form", "data_access_procedure"],
    }
    assert "fact_id" not in custom
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads == [
        '/ask_fact{"fact_id":"right_rectification"}',
        "/request_rectification",
        '/ask_fact{"fact_id":"data_access_procedure"}',
        "/something_else",
    ]
    assert messages[0]["buttons"][-1]["title"] == "Autre chose"
    assert messages[0]["response"] == "utter_ambiguous"
    assert events[0]["name"] == "last_fact_id" and events[0]["value"] is None


def test_an_unsure_wish_is_confirmed_before_any_form_starts():
    messages, events = run(hesitating(["request_erasure"], "effacer"))
    assert messages[0]["custom"] == {"fallback": "ambiguous", "candidates": ["erasure_request_form"]}
    assert messages[0]["response"] == "utter_confirm_wish"
    assert messages[0]["request_label"] == "demande d'effacement"
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/request_erasure", "/something_else"]
    assert not any(e.get("event") == "active_loop" for e in events), "no form is started by the question"


def test_unknown_or_forged_candidates_fall_back_to_the_honest_answer():
    messages, _ = run(hesitating(["faq/no_such_fact", "greet", "request_status"]))
    assert messages[0]["custom"] == {"fallback": "low_confidence"}
    assert messages[0]["response"] == "utter_not_sure"


def test_something_else_gets_the_honest_answer_with_topics():
    messages, _ = run(make_tracker("something_else", "/something_else"))
    assert messages[0]["custom"] == {"fallback": "none_of_these"}
    assert messages[0]["response"] == "utter_not_sure" and messages[0]["buttons"]


@pytest.mark.parametrize("kind", ["medical", "health_insurance_services", "chitchat"])
def test_off_topic_kind_points_to_the_right_service(kind):
    selector = {"out_of_scope": {"response": {"intent_response_key": f"out_of_scope/{kind}", "confidence": 0.9}}}
    messages, _ = run(make_tracker("out_of_scope", "x", response_selector=selector))
    assert messages[0]["response"] == f"utter_out_of_scope/{kind}"
    assert messages[0]["custom"] == {"fallback": "out_of_scope"}
