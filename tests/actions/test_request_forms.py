"""Request form actions from tracker fixtures: validators, summary, submit, status."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

import settings
from actions.request_form_questions import AskDataScope, AskObjectionReason, AskRequestConfirmed
from actions.request_form_validation import (
    ValidateErasureRequestForm,
    ValidateObjectionRequestForm,
    ValidateRectificationRequestForm,
)
from actions.request_status import ActionShowRequestStatus
from actions.request_submission import ActionCancelRequest, ActionSubmitRequest
from gdpr.requests import RequestRepository
from settings import PROJECT_ROOT
from tests.conftest import make_tracker

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
INJECTIONS = ["'; DROP TABLE gdpr_requests; --", "<script>alert(1)</script>", "{{7*7}}", "${jndi:ldap://x}"]


@pytest.fixture(autouse=True)
def app_database(tmp_path, monkeypatch, smtp_sink):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return RequestRepository(url)


def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e["event"] == "slot"}, events


def form_tracker(form, slot, text, intent="inform", confidence=0.95, slots=None, entities=None):
    return make_tracker(
        intent,
        text,
        intent_confidence=confidence,
        entities=entities,
        slots={"requested_slot": slot, "invalid_answers": 0.0, **(slots or {})},
        active_loop={"name": form},
    )


def validate(slot, text, form_cls=ValidateErasureRequestForm, **kwargs):
    tracker = form_tracker(form_cls.FORM, slot, text, **kwargs)
    return run(form_cls(), tracker)


@pytest.mark.parametrize(
    "slot, text, stored",
    [
        ("first_name", "  Jeanne-Marie ", "Jeanne-Marie"),
        ("first_name", "Zoë", "Zoë"),
        ("last_name", "N'Diaye", "N'Diaye"),
        ("last_name", "de La Fontaine", "de La Fontaine"),
        ("email", "Jeanne.Dupont@Example.FR", "Jeanne.Dupont@example.fr"),
        ("email", "mon mail c'est jeanne@example.fr", "jeanne@example.fr"),
        ("data_scope", "Un projet de recherche du Health Data Hub", "hdh_project"),
        ("data_scope", "mes remboursements assurance maladie", "health_insurance"),
    ],
)
def test_valid_answers_are_kept_and_saved_in_the_draft(slot, text, stored, app_database):
    messages, slots, _ = validate(slot, text)
    assert slots[slot] == stored
    assert messages == []
    assert any(d for d in [app_database.get_draft(s) for s in _senders(app_database)] if d.answers.get(slot) == stored)


def _senders(repo):
    import sqlalchemy as sa

    with repo.engine.connect() as connection:
        return [r[0] for r in connection.execute(sa.text("SELECT sender_id FROM request_drafts"))]


@pytest.mark.parametrize(
    "slot, text, expected_words",
    [
        ("first_name", "Jeanne2", "prénom"),
        ("first_name", "", "prénom"),
        ("last_name", "x" * 10_000, "nom de famille"),
        ("last_name", "jeanne@example.fr", "sans numéro"),
        ("email", "jeanne.example.fr", "e-mail"),
        ("email", "a@b", "e-mail"),
        ("email", "x" * 10_000 + "@example.fr", "e-mail"),
        ("data_scope", "je ne sais pas", "Health Data Hub"),
        ("data_scope", "projet de recherche et assurance maladie", "Health Data Hub"),
    ]
    + [("first_name", s, "prénom") for s in INJECTIONS]
    + [("email", s, "e-mail") for s in INJECTIONS],
)
def test_invalid_answers_are_refused_with_an_explanation(slot, text, expected_words, app_database):
    messages, slots, _ = validate(slot, text)
    assert slots[slot] is None
    assert slots["invalid_answers"] == 1.0
    assert expected_words in messages[0]["text"]
    assert _senders(app_database) == []


def test_descriptions_refuse_nir_and_overlong_text_but_keep_injection_as_plain_text(app_database):
    form = ValidateRectificationRequestForm
    messages, slots, _ = validate("wrong_data", "mon NIR 1 85 05 78 006 084 36 est faux", form_cls=form)
    assert slots["wrong_data"] is None and "sécurité sociale" in messages[0]["text"]
    messages, slots, _ = validate("wrong_data", "a" * 10_000, form_cls=form)
    assert slots["wrong_data"] is None and "trop longue" in messages[0]["text"]
    messages, slots, _ = validate("correct_data", INJECTIONS[0], form_cls=form)
    assert slots["correct_data"] == INJECTIONS[0]


def test_third_invalid_answer_offers_to_stop():
    tracker = form_tracker("erasure_request_form", "email", "pas un mail", slots={"invalid_answers": 2.0})
    messages, slots, _ = run(ValidateErasureRequestForm(), tracker)
    assert slots["invalid_answers"] == 3.0
    assert messages[0]["buttons"] == [{"title": "Arrêter la demande", "payload": "/cancel"}]


@pytest.mark.parametrize(
    "intent, text",
    [("cancel", "annuler"), ("ask_fact", '/ask_fact{"fact_id":"consent"}'), ("faq", "c'est quoi le cloud act ?")],
)
def test_cancel_buttons_and_questions_are_not_taken_as_answers(intent, text):
    tracker = form_tracker("erasure_request_form", "last_name", text, intent=intent)
    messages, slots, events = run(ValidateErasureRequestForm(), tracker)
    assert "last_name" not in slots and events == []


def test_a_forged_slot_payload_is_not_trusted():
    # "/inform{...}" typed by hand must not set a slot without validation.
    tracker = form_tracker("erasure_request_form", "email", '/inform{"email": "x@example.fr"}')
    _, slots, events = run(ValidateErasureRequestForm(), tracker)
    assert events == []


def test_question_carries_form_progress():
    tracker = form_tracker("erasure_request_form", "data_scope", "")
    messages, _, _ = run(AskDataScope(), tracker)
    assert messages[0]["custom"] == {"form": {"name": "erasure_request_form", "step": 1, "steps": 6}}
    assert "numéro de sécurité sociale" in messages[0]["text"]
    assert len(messages[0]["buttons"]) == 2


def complete_draft(repo, sender, kind="erasure", verified=True, scope="hdh_project", **own_answers):
    for slot, value in {
        "data_scope": scope,
        "first_name": "Jeanne",
        "last_name": "Dupont",
        "email": "jeanne@example.fr",
        **own_answers,
    }.items():
        repo.save_answer(sender, kind, slot, value)
    if verified:  # as the citizen does: the code sent to the address, typed back
        from devtools.mailbox import latest_code
        from gdpr.verification import VERIFIED, EmailVerification

        draft = repo.get_draft(sender)
        verification = EmailVerification(repo)
        verification.send_code(draft)
        code = latest_code(settings.mail_dir(), "jeanne@example.fr")
        assert verification.check_code(draft, code).outcome == VERIFIED


def test_summary_reads_the_draft_and_offers_corrections(app_database):
    tracker = form_tracker("erasure_request_form", "request_confirmed", "")
    complete_draft(app_database, tracker.sender_id)
    messages, _, _ = run(AskRequestConfirmed(), tracker)
    text = messages[0]["text"]
    assert "Jeanne" in text and "Dupont" in text and "jeanne@example.fr" in text and "article 17" in text
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads[0] == "/affirm" and payloads[-1] == "/cancel"
    assert '/correct_field{"request_field":"email"}' in payloads
    assert messages[0]["custom"]["form"] == {"name": "erasure_request_form", "step": 5, "steps": 6}
    assert "code à 6 chiffres" in text, "the summary says a code comes before the request is recorded"


def test_correction_at_the_summary_clears_the_field():
    tracker = form_tracker(
        "erasure_request_form",
        "request_confirmed",
        '/correct_field{"request_field":"email"}',
        intent="correct_field",
        entities=[{"entity": "request_field", "value": "email"}],
    )
    messages, slots, _ = run(ValidateErasureRequestForm(), tracker)
    assert slots["email"] is None and slots["request_confirmed"] is None
    assert "adresse e-mail" in messages[0]["text"]


def test_forged_correction_field_is_refused():
    tracker = form_tracker(
        "erasure_request_form",
        "request_confirmed",
        '/correct_field{"request_field":"status"}',
        intent="correct_field",
        entities=[{"entity": "request_field", "value": "status"}],
    )
    _, slots, _ = run(ValidateErasureRequestForm(), tracker)
    assert slots == {"request_confirmed": None, "invalid_answers": 1.0}


def test_affirm_confirms():
    tracker = form_tracker("erasure_request_form", "request_confirmed", "oui", intent="affirm")
    _, slots, _ = run(ValidateErasureRequestForm(), tracker)
    assert slots["request_confirmed"] is True


def test_submit_confirms_only_after_commit(app_database):
    tracker = make_tracker("affirm", "oui")
    complete_draft(app_database, tracker.sender_id)
    messages, slots, _ = run(ActionSubmitRequest(), tracker)
    request = app_database.find_by_reference(slots["request_reference"])
    assert request is not None and request.status == "reçue"
    assert messages[0]["text"].startswith("Demande enregistrée.")
    assert request.reference in messages[0]["text"]
    assert messages[0]["custom"]["request"]["reference"] == request.reference
    assert messages[0]["custom"]["request"]["deadline"] is None, "the deadline runs from the transmission"
    assert slots["first_name"] is None and slots["email"] is None


def test_an_unverified_address_records_nothing(app_database):
    tracker = make_tracker("affirm", "oui")
    complete_draft(app_database, tracker.sender_id, verified=False)
    messages, slots, _ = run(ActionSubmitRequest(), tracker)
    assert app_database.count() == 0 and "n'est pas enregistrée" in messages[0]["text"]
    assert slots == {"email_code": None}


def test_confirmation_says_what_happened_and_what_remains(app_database):
    """Nothing is transmitted yet: the message says who transmits, and from when the deadline runs."""
    from devtools.mailbox import messages_to

    tracker = make_tracker("affirm", "oui")
    complete_draft(app_database, tracker.sender_id)
    messages, slots, _ = run(ActionSubmitRequest(), tracker)
    text = messages[0]["text"]
    assert "n'a pas encore été transmise au responsable" in text
    assert "va la transmettre" in text and "court à partir de sa réception" in text
    assert "Un accusé de réception vient de vous être envoyé" in text
    for claim in ("est adressée au", "doit vous répondre au plus tard", "au plus tard le", "a été transmise"):
        assert claim not in text
    acknowledgements = messages_to(settings.mail_dir(), "jeanne@example.fr", "Accusé")
    assert (
        len(acknowledgements) == 1
        and slots["request_reference"] in acknowledgements[0]["subject"] + acknowledgements[0]["text"]
    )


def test_when_this_service_receives_for_the_controller_the_deadline_is_given(app_database, monkeypatch):
    monkeypatch.setenv("DEADLINE_STARTS_ON", "verification")
    tracker = make_tracker("affirm", "oui")
    complete_draft(app_database, tracker.sender_id)
    messages, slots, _ = run(ActionSubmitRequest(), tracker)
    request = app_database.find_by_reference(slots["request_reference"])
    assert request.deadline is not None
    assert f"au plus tard le {request.deadline.strftime('%d/%m/%Y')}" in messages[0]["text"]


def test_smtp_down_records_the_request_and_says_the_acknowledgement_will_follow(app_database, monkeypatch):
    from devtools.servers import free_port
    from mail.outbox import STATUS_QUEUED, counts

    tracker = make_tracker("affirm", "oui")
    complete_draft(app_database, tracker.sender_id)
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    messages, slots, _ = run(ActionSubmitRequest(), tracker)
    assert messages[0]["text"].startswith("Demande enregistrée.") and app_database.count() == 1
    assert "n'a pas encore pu partir" in messages[0]["text"] and "vient de vous être envoyé" not in messages[0]["text"]
    assert counts(app_database.url)[STATUS_QUEUED] == 1


def test_submit_with_database_down_is_honest_and_keeps_answers(monkeypatch, app_database):
    tracker = make_tracker("affirm", "oui")
    complete_draft(app_database, tracker.sender_id)
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/down")
    messages, slots, _ = run(ActionSubmitRequest(), tracker)
    assert "n'est pas enregistrée" in messages[0]["text"]
    assert "enregistrée." not in messages[0]["text"].replace("n'est pas enregistrée.", "")
    assert messages[0]["custom"] == {"error": "storage_unavailable"}
    assert messages[0]["buttons"][0]["payload"] == "/retry_submit"
    assert slots == {"submit_failed": True}
    # The database is back: the retry stores the request from the kept answers.
    monkeypatch.setenv("DATABASE_URL", app_database.url)
    messages, slots, _ = run(ActionSubmitRequest(), tracker)
    assert messages[0]["text"].startswith("Demande enregistrée.") and app_database.count() == 1


def test_retry_button_submits_nothing_unless_a_submission_failed(app_database):
    tracker = make_tracker(
        "retry_submit", "/retry_submit", slots={"requested_slot": "email"}, active_loop={"name": "erasure_request_form"}
    )
    complete_draft(app_database, tracker.sender_id)
    messages, slots, _ = run(ActionSubmitRequest(), tracker)
    assert app_database.count() == 0 and slots == {}
    assert "aucun enregistrement en échec" in messages[0]["text"]
    assert app_database.get_draft(tracker.sender_id) is not None, "the answers given so far are kept"
    failed = make_tracker("retry_submit", "/retry_submit", slots={"submit_failed": True})
    complete_draft(app_database, failed.sender_id)
    messages, slots, _ = run(ActionSubmitRequest(), failed)
    assert messages[0]["text"].startswith("Demande enregistrée.") and app_database.count() == 1


def test_cancel_deletes_the_draft(app_database):
    tracker = make_tracker("cancel", "annuler", active_loop={"name": "erasure_request_form"})
    complete_draft(app_database, tracker.sender_id)
    messages, slots, events = run(ActionCancelRequest(), tracker)
    assert app_database.get_draft(tracker.sender_id) is None
    assert {"event": "active_loop", "timestamp": None, "name": None} in events
    assert messages[0]["response"] == "utter_request_cancelled"


def test_status_needs_the_matching_email(app_database):
    sender = "status-owner"
    complete_draft(app_database, sender)
    request = app_database.submit(sender)
    for email, found in [("JEANNE@example.fr", True), ("intrus@example.fr", False)]:
        tracker = make_tracker("inform", email, slots={"request_reference": request.reference, "status_email": email})
        messages, slots, _ = run(ActionShowRequestStatus(), tracker)
        assert messages[0]["custom"]["request_status"]["found"] is found
        assert ("reçue" in messages[0]["text"]) is found
        if found:
            assert "pas encore été transmise au responsable" in messages[0]["text"]
            assert (
                "au plus tard" not in messages[0]["text"] and "courra à partir de sa réception" in messages[0]["text"]
            )
            status = messages[0]["custom"]["request_status"]
            assert status["reference"] == request.reference and "letter_url" not in status
            assert request.letter_key not in str(messages), "the letter's key is never in a status reply"
        assert slots["status_email"] is None
    tracker = make_tracker(
        "inform", "x", slots={"request_reference": "HDH-2026-999999", "status_email": "jeanne@example.fr"}
    )
    messages, _, _ = run(ActionShowRequestStatus(), tracker)
    assert messages[0]["custom"]["request_status"]["found"] is False


def test_the_introduction_is_said_once_then_the_question_comes_alone():
    start = [
        {"event": "active_loop", "name": "erasure_request_form"},
        {"event": "slot", "name": "requested_slot", "value": "data_scope"},
    ]
    first = make_tracker(
        "request_erasure",
        "je veux effacer mes données",
        events=start,
        active_loop={"name": "erasure_request_form"},
        slots={"requested_slot": "data_scope"},
    )
    messages, _, _ = run(AskDataScope(), first)
    assert "Je vais préparer votre demande d'effacement" in messages[0]["text"]
    again = start + [
        {"event": "user", "text": "euh"},
        {"event": "slot", "name": "data_scope", "value": None},
        {"event": "slot", "name": "requested_slot", "value": "data_scope"},
    ]
    second = make_tracker(
        "inform",
        "euh",
        events=again,
        active_loop={"name": "erasure_request_form"},
        slots={"requested_slot": "data_scope"},
    )
    messages, _, _ = run(AskDataScope(), second)
    assert "Je vais préparer" not in messages[0]["text"] and messages[0]["buttons"]
    assert messages[0]["custom"]["form"]["step"] == 1


def test_text_that_is_not_a_code_uses_no_attempt(app_database):
    from gdpr.verification import MAX_ATTEMPTS, EmailVerification

    sender = "not-a-code"
    complete_draft(app_database, sender, verified=False)
    EmailVerification(app_database).send_code(app_database.get_draft(sender))
    for typed in ("123", "euh je sais pas", "12345678"):
        tracker = form_tracker("erasure_request_form", "email_code", typed)
        tracker.sender_id = sender
        messages, slots, _ = run(ValidateErasureRequestForm(), tracker)
        assert slots["email_code"] is None and "6 chiffres" in messages[0]["text"]
    tracker = form_tracker("erasure_request_form", "email_code", "000000")
    tracker.sender_id = sender
    messages, _, _ = run(ValidateErasureRequestForm(), tracker)
    code = latest_code_for(sender)
    if code != "000000":
        assert f"Il vous reste {MAX_ATTEMPTS - 1} essais" in messages[0]["text"]


def latest_code_for(_sender):
    from devtools.mailbox import latest_code

    return latest_code(settings.mail_dir(), "jeanne@example.fr")


def test_the_status_answer_tells_the_transmission_and_the_extension(app_database):
    import datetime as dt

    from gdpr.deadlines import legal_deadline
    from gdpr.processing import extend_deadline, record_transmission

    sender = "status-lifecycle"
    complete_draft(app_database, sender)
    request = app_database.submit(sender)
    today = request.received_at.date()
    record_transmission(
        app_database,
        request.reference,
        transmitted_on=today,
        transmitted_to="Plateforme des données de santé",
        channel="courriel",
        operator="agent.dpo",
        today=today,
    )

    def status_text():
        tracker = make_tracker(
            "inform", "x", slots={"request_reference": request.reference, "status_email": "jeanne@example.fr"}
        )
        messages, _, _ = run(ActionShowRequestStatus(), tracker)
        return messages[0]["text"], messages[0]["custom"]["request_status"]

    text, payload = status_text()
    deadline = legal_deadline(today)
    assert f"transmise à Plateforme des données de santé le {today.strftime('%d/%m/%Y')}" in text
    assert f"au plus tard le {deadline.strftime('%d/%m/%Y')}" in text and "pas encore été transmise" not in text
    assert payload["deadline"] == deadline.isoformat() and payload["transmitted_on"] == today.isoformat()
    extend_deadline(
        app_database, request.reference, months=2, reason="demande complexe", operator="agent.dpo", today=today
    )
    text, payload = status_text()
    assert "prolongé (motif : demande complexe)" in text and payload["deadline"] > deadline.isoformat()
    assert dt.date.fromisoformat(payload["deadline"]) >= today + dt.timedelta(days=89)


# An objection about the SNDS needs no reason (L.1461-7, 5° CSP; fact right_objection); one about
# a research project on the Platform does (art. 21 GDPR: « raisons tenant à sa situation particulière »).
def objection_tracker(slot, text, **slots):
    return form_tracker("objection_request_form", slot, text, slots=slots)


def test_an_objection_about_the_snds_goes_from_the_email_to_the_summary_without_asking_a_reason():
    snds = {"data_scope": "health_insurance", "first_name": "Jeanne", "last_name": "Dupont"}
    _, slots, events = run(ValidateObjectionRequestForm(), objection_tracker("email", "jeanne@example.fr", **snds))
    assert slots["email"] == "jeanne@example.fr"
    assert slots["requested_slot"] == "request_confirmed", "the reason is skipped"


def test_an_objection_about_a_research_project_asks_the_reason():
    hdh = {"data_scope": "hdh_project", "first_name": "Jeanne", "last_name": "Dupont"}
    _, slots, _ = run(ValidateObjectionRequestForm(), objection_tracker("email", "jeanne@example.fr", **hdh))
    assert slots.get("requested_slot") in (None, "objection_reason"), "Rasa asks the next domain slot: the reason"
    messages, _, _ = run(AskObjectionReason(), objection_tracker("objection_reason", "", **hdh))
    assert "situation particulière" in messages[0]["text"]
    assert messages[0]["custom"]["form"] == {"name": "objection_request_form", "step": 5, "steps": 7}


def test_choosing_the_snds_drops_a_reason_given_for_a_research_project(app_database):
    tracker = objection_tracker("data_scope", "mes données de l'Assurance maladie (SNDS)", objection_reason="x")
    app_database.save_answer(tracker.sender_id, "objection", "objection_reason", "je ne veux pas")
    _, slots, _ = run(ValidateObjectionRequestForm(), tracker)
    assert slots["data_scope"] == "health_insurance" and slots["objection_reason"] is None
    assert "objection_reason" not in app_database.get_draft(tracker.sender_id).answers


def test_the_snds_objection_summary_and_record_have_no_reason(app_database):
    tracker = objection_tracker("request_confirmed", "", data_scope="health_insurance")
    complete_draft(app_database, tracker.sender_id, kind="objection", scope="health_insurance")
    messages, _, _ = run(AskRequestConfirmed(), tracker)
    assert "raisons" not in messages[0]["text"].lower()
    assert not [b for b in messages[0]["buttons"] if "objection_reason" in b["payload"]]
    assert messages[0]["custom"]["form"] == {"name": "objection_request_form", "step": 5, "steps": 6}
    submit = make_tracker("affirm", "oui")
    submit.sender_id = tracker.sender_id
    _, slots, _ = run(ActionSubmitRequest(), submit)
    request = app_database.find_by_reference(slots["request_reference"])
    assert request.kind == "objection" and request.objection_reason is None
    letter = request.kind_info.letter_text("par l'Assurance maladie", request.answers)
    assert "L.1461-7" in letter and "raisons" not in letter


def test_a_research_project_objection_is_not_recorded_without_its_reason(app_database):
    tracker = make_tracker("affirm", "oui")
    complete_draft(app_database, tracker.sender_id, kind="objection", scope="hdh_project")
    run(ActionSubmitRequest(), tracker)
    assert app_database.count() == 0


def test_a_message_to_the_team_keeps_every_step_of_its_form():
    """The fields skipped for a scope belong to request kinds; the contact form has none to skip."""
    from actions.contact_team import FORM, ValidateContactTeamForm

    steps = DOMAIN["forms"][FORM]["required_slots"]
    tracker = form_tracker(FORM, steps[0], "ma question")
    assert (
        asyncio.run(ValidateContactTeamForm().required_slots(steps, CollectingDispatcher(), tracker, DOMAIN)) == steps
    )
