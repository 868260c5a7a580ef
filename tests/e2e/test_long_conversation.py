"""A long conversation: its Rasa session ends after SESSION_MAX_MESSAGES citizen messages, between
two turns, never inside a form, and the conversation goes on as before (rasa_addons.session_window)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

import settings
from tests.e2e.replies import customs, form_step, new_sender

pytestmark = pytest.mark.servers

QUESTIONS = [
    "c'est quoi le SNDS ?",
    "qui peut accéder à mes données de santé ?",
    "combien de temps sont-elles gardées ?",
]


def stored_events(tracker_store_url, sender):
    with sa.create_engine(tracker_store_url).connect() as connection:
        rows = connection.execute(
            sa.text("SELECT type_name, data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender}
        ).all()
    return [(type_name, json.loads(data)) for type_name, data in rows]


def sessions(events):
    return sum(1 for type_name, _ in events if type_name == "session_started")


def answered_a_fact(replies):
    return any("fact_id" in c for c in customs(replies))


def test_a_long_conversation_gets_a_new_session_between_two_answers_and_keeps_its_slots(assistant, tracker_store_url):
    limit = settings.session_max_messages()
    sender = new_sender("long")
    for i in range(limit):
        assert answered_a_fact(assistant.say(sender, QUESTIONS[i % len(QUESTIONS)]))
    assert sessions(stored_events(tracker_store_url, sender)) == 1
    replies = assistant.say(sender, "et le health data hub c'est quoi ?")
    assert answered_a_fact(replies), "the conversation goes on as before"
    events = stored_events(tracker_store_url, sender)
    assert sessions(events) == 2
    second = events[max(i for i, (t, _) in enumerate(events) if t == "session_started") :]
    carried = {d["name"]: d["value"] for t, d in second if t == "slot"}
    assert carried.get("last_fact_id"), "the slots of the first session are kept"
    assert len([t for t, _ in events if t == "user"]) == limit + 1, "every message stays in the log"


def test_a_form_in_progress_is_never_cut(assistant, tracker_store_url):
    limit = settings.session_max_messages()
    sender = new_sender("longform")
    for i in range(limit - 2):
        assistant.say(sender, QUESTIONS[i % len(QUESTIONS)])
    assert form_step(assistant.say(sender, "je veux faire effacer mes données"))["step"] == 1
    for answer in ("Un projet de recherche du Health Data Hub", "Jeanne", "Dupont"):
        replies = assistant.say(sender, answer)
    assert form_step(replies) == {"name": "erasure_request_form", "step": 4, "steps": 6}
    assert sessions(stored_events(tracker_store_url, sender)) == 1, "no new session inside the form"
    assistant.say(sender, "annuler")
    replies = assistant.say(sender, "c'est quoi le SNDS ?")
    assert answered_a_fact(replies)
