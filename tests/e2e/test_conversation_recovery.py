"""A citizen's path never breaks a conversation: status by reference alone, and Rasa's
circuit breaker followed by a conversation that still answers."""

from __future__ import annotations

import pytest

from devtools.servers import RasaServer
from gdpr.requests import RequestRepository
from rasa_addons.conversation_recovery import RECOVERY_MESSAGE
from tests.e2e.replies import customs, form_step, new_sender, texts
from tests.verified_drafts import submit_verified

pytestmark = pytest.mark.servers


def sender() -> str:
    return new_sender("recovery")


@pytest.fixture
def stored_request(app_database_url):
    repo = RequestRepository(app_database_url)
    citizen = sender()
    for slot, value in {
        "data_scope": "hdh_project",
        "first_name": "Inès",
        "last_name": "Moreau",
        "email": "ines.moreau@example.fr",
    }.items():
        repo.save_answer(citizen, "access", slot, value)
    return submit_verified(repo, citizen)


@pytest.mark.parametrize("typed", ["{ref}", "{ref_lower}", "c'est la {ref}", "  {ref}  "])
def test_status_asked_then_the_reference_alone(assistant, stored_request, typed):
    citizen = sender()
    replies = assistant.say(citizen, "je voudrais connaître le statut de ma demande")
    assert form_step(replies) == {"name": "request_status_form", "step": 1, "steps": 2}
    reference = stored_request.reference
    replies = assistant.say(citizen, typed.format(ref=reference, ref_lower=reference.lower()))
    assert form_step(replies) == {"name": "request_status_form", "step": 2, "steps": 2}, texts(replies)
    assert len([r for r in replies if r.get("text")]) == 1, "one question, not a burst of fallbacks"
    replies = assistant.say(citizen, "ines.moreau@example.fr")
    status = next(p["request_status"] for p in customs(replies) if "request_status" in p)
    assert status["found"] is True and status["reference"] == reference
    replies = assistant.say(citizen, "Qu'est-ce que le SNDS ?")
    assert any(p.get("fact_id") == "snds_presentation" for p in customs(replies))


def test_a_wrong_reference_is_refused_then_the_conversation_goes_on(assistant):
    citizen = sender()
    assistant.say(citizen, "où en est ma demande ?")
    for _ in range(4):
        replies = assistant.say(citizen, "HDH-12345")
        assert "HDH-2026-000123" in texts(replies)
        assert "momentanément indisponible" not in texts(replies)
    replies = assistant.say(citizen, "annuler")
    assert "annulé" in texts(replies)
    replies = assistant.say(citizen, "Qu'est-ce que le Health Data Hub ?")
    assert any(p.get("fact_id") == "hdh_presentation" for p in customs(replies))


@pytest.fixture(scope="module")
def hair_trigger(tmp_path_factory, action_server, app_database_url):
    """A Rasa server whose circuit breaker trips after one action: every turn trips it."""
    workdir = tmp_path_factory.mktemp("hair-trigger")
    server = RasaServer(
        workdir,
        action_url=action_server.url,
        tracker_store_url=f"sqlite:///{workdir / 'conversations.db'}",
        env={"DATABASE_URL": app_database_url, "MAX_NUMBER_OF_PREDICTIONS": "1"},
    ).start()
    yield server
    server.stop()


def test_after_the_circuit_breaker_the_conversation_still_answers(hair_trigger):
    """Rasa 3.6 alone answers nothing to every later message once the breaker has tripped."""
    citizen = sender()
    for question, fact_id in [
        ("Qu'est-ce que le SNDS ?", "snds_presentation"),
        ("Qu'est-ce que le Health Data Hub ?", "hdh_presentation"),
        ("Qui héberge les données de santé ?", "hosting_microsoft"),
    ]:
        replies = hair_trigger.say(citizen, question)
        assert any(p.get("fact_id") == fact_id for p in customs(replies)), texts(replies)
        assert RECOVERY_MESSAGE in texts(replies)
        assert {"fallback": "circuit_breaker"} in customs(replies)


def test_the_circuit_breaker_leaves_an_active_form(hair_trigger):
    citizen = sender()
    hair_trigger.say(citizen, "je veux faire effacer mes données")
    tracker = hair_trigger.tracker(citizen)
    assert tracker["active_loop"] in ({}, None) or tracker["active_loop"].get("name") is None
    assert tracker["latest_action_name"] == "action_listen"
