"""« Cette réponse vous a-t-elle aidé ? »: offered with every fact, recorded once per answer,
changeable, and used by the console (issue #18)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
import sqlalchemy as sa
from rasa_sdk.executor import CollectingDispatcher

from actions.facts import ActionAnswerFact
from actions.feedback import ActionRecordFeedback
from conversations import feedback
from devtools.databases import throwaway_database
from gdpr.requests import RequestRepository
from storage.schema import answer_feedback
from tests.conftest import make_tracker, selector_for


@pytest.fixture(params=["sqlite", "postgresql"])
def app_url(request, tmp_path, monkeypatch):
    with throwaway_database(request.param, tmp_path / "app.db") as url:
        monkeypatch.setenv("DATABASE_URL", url)
        yield url


def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher.messages, events


def entities_of(payload: str) -> list:
    """The entities Rasa reads from a button payload /intent{...}."""
    values = json.loads(payload[payload.index("{") :])
    return [{"entity": k, "value": v} for k, v in values.items()]


def rows(url):
    with RequestRepository(url).engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(sa.select(answer_feedback))]


def test_every_fact_answer_offers_feedback_with_its_own_answer_id():
    tracker = make_tracker("faq", "c'est quoi le SNDS", response_selector=selector_for("snds_presentation", 0.9))
    first = run(ActionAnswerFact(threshold=0.5), tracker)[0][0]["custom"]["feedback"]
    second = run(ActionAnswerFact(threshold=0.5), tracker)[0][0]["custom"]["feedback"]
    assert first["question"] == "Cette réponse vous a-t-elle aidé ?"
    assert [b["title"] for b in first["buttons"]] == ["Oui", "Non"]
    assert first["answer_id"] != second["answer_id"], "each answer is rated on its own"
    yes = dict(e.values() for e in entities_of(first["buttons"][0]["payload"]))
    assert yes == {"answer_id": first["answer_id"], "fact_id": "snds_presentation", "helpful": "yes"}
    assert first["buttons"][0]["payload"].startswith("/give_feedback{")


def test_no_asks_why_then_the_reason_is_recorded_and_a_change_of_mind_replaces_it(app_url):
    offer = feedback.feedback_offer("consent", "a1b2c3d4e5f6")
    tracker = make_tracker("give_feedback", "Non", entities=entities_of(offer["buttons"][1]["payload"]))
    messages, _ = run(ActionRecordFeedback(), tracker)
    assert "Qu'est-ce qui n'allait pas" in messages[0]["text"]
    reasons = messages[0]["buttons"]
    assert [b["title"] for b in reasons] == list(feedback.REASONS.values())
    assert [(r["fact_id"], r["helpful"], r["reason"]) for r in rows(app_url)] == [("consent", False, None)]

    sender = tracker.sender_id
    wrong = make_tracker("give_feedback", "Semble faux", entities=entities_of(reasons[2]["payload"]))
    wrong.sender_id = sender
    messages, _ = run(ActionRecordFeedback(), wrong)
    assert "l'équipe relira cette réponse" in messages[0]["text"]
    assert [(r["helpful"], r["reason"]) for r in rows(app_url)] == [(False, "wrong_or_outdated")]

    changed = make_tracker("give_feedback", "Oui", entities=entities_of(offer["buttons"][0]["payload"]))
    changed.sender_id = sender
    messages, _ = run(ActionRecordFeedback(), changed)
    assert messages[0]["text"] == "Merci, votre avis est enregistré."
    assert [(r["helpful"], r["reason"]) for r in rows(app_url)] == [(True, None)], "one row per answer"


@pytest.mark.parametrize(
    "entities",
    [
        [],
        [
            {"entity": "answer_id", "value": "a1b2c3d4"},
            {"entity": "fact_id", "value": "no_such_fact"},
            {"entity": "helpful", "value": "yes"},
        ],
        [
            {"entity": "answer_id", "value": "<script>"},
            {"entity": "fact_id", "value": "consent"},
            {"entity": "helpful", "value": "yes"},
        ],
        [
            {"entity": "answer_id", "value": "a1b2c3d4"},
            {"entity": "fact_id", "value": "consent"},
            {"entity": "helpful", "value": "no"},
            {"entity": "reason", "value": "because"},
        ],
    ],
)
def test_a_forged_or_broken_rating_gets_a_clear_answer_and_stores_nothing(app_url, entities):
    messages, _ = run(ActionRecordFeedback(), make_tracker("give_feedback", "/give_feedback", entities=entities))
    assert messages[0]["text"].startswith("Je n'ai pas pu lire votre avis")
    assert rows(app_url) == []


def test_storage_down_is_said_honestly(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    offer = feedback.feedback_offer("consent", "a1b2c3d4e5f6")
    messages, _ = run(
        ActionRecordFeedback(),
        make_tracker("give_feedback", "Oui", entities=entities_of(offer["buttons"][0]["payload"])),
    )
    assert "n'a pas pu être enregistré" in messages[0]["text"]


def test_facts_to_review_combine_ratings_reports_and_age(app_url, catalogue):
    engine = RequestRepository(app_url).engine
    today = dt.date(2027, 1, 15)
    feedback.record(engine, "c1", "aaaaaa01", "consent", False, "unclear")
    feedback.record(engine, "c2", "aaaaaa02", "consent", False, "not_my_question")
    feedback.record(engine, "c3", "aaaaaa03", "consent", True)
    feedback.record(engine, "c4", "aaaaaa04", "cloud_act", False, "wrong_or_outdated")
    feedback.record(engine, "c5", "aaaaaa05", "data_retention", True)
    ratings = feedback.satisfaction(engine)
    assert (ratings["consent"].helpful, ratings["consent"].not_helpful) == (1, 2)
    facts = list(catalogue.values()) if isinstance(catalogue, dict) else list(catalogue)
    items = {i.fact_id: i for i in feedback.facts_to_review(facts, ratings, max_age_days=10_000, today=today)}
    assert set(items) == {"consent", "cloud_act"}
    assert items["consent"].senders == ["c2", "c1"] or set(items["consent"].senders) == {"c1", "c2"}
    assert "semble faux" in items["cloud_act"].why[0]
    aged = feedback.facts_to_review(facts, ratings, max_age_days=0, today=today + dt.timedelta(days=1))
    assert len(aged) == len(facts), "every fact is older than a zero-day review age"


def test_a_comment_marks_the_rating_and_no_comment_is_fine(app_url):
    from actions.feedback import ActionRecordFeedbackComment

    engine = RequestRepository(app_url).engine
    tracker = make_tracker(
        "inform",
        "la source est ancienne",
        slots={"feedback_answer": "abcdef12", "feedback_comment": "la source est ancienne"},
    )
    feedback.record(engine, tracker.sender_id, "abcdef12", "consent", False, "wrong_or_outdated")
    messages, events = run(ActionRecordFeedbackComment(), tracker)
    assert "commentaire est enregistré" in messages[0]["text"]
    assert [r["commented"] for r in rows(app_url)] == [True]
    assert {e["name"]: e["value"] for e in events} == {
        "feedback_comment": None,
        "feedback_answer": None,
        "feedback_fact": None,
    }

    skipped = make_tracker("cancel", "annuler", slots={"feedback_answer": "abcdef99", "feedback_comment": "annuler"})
    assert run(ActionRecordFeedbackComment(), skipped)[0][0]["text"].startswith("D'accord, pas de commentaire")


def test_a_comment_slot_is_stored_masked_but_readable():
    from privacy.events import mask_event_dict

    stored = mask_event_dict(
        {"event": "slot", "name": "feedback_comment", "value": "Je m'appelle Odile Vasseur, c'est faux"}, []
    )
    assert stored["value"] == "Je m'appelle [nom masqué], c'est faux"
