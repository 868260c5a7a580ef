"""Every kind of request in the registry (gdpr.kinds) works end to end from that one entry:
Rasa data, questions, validation, summary, storage, letter, console CSV, masking, button
payloads. A new right added to the registry is walked through all of this unchanged."""

from __future__ import annotations

import asyncio
import csv
import io
import re

import pytest
import sqlalchemy as sa
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk.executor import CollectingDispatcher

from actions import request_form_questions, request_form_validation
from console.accounts import create_operator
from gdpr.kinds import DESCRIPTION, EMAIL, FIELDS, KINDS, NAME, PERSONAL_SLOTS, SCOPE, SCOPE_LABELS
from gdpr.letters import compose_letter
from gdpr.requests import RequestRepository
from rasa_addons.message_guard import check_text
from rasa_addons.tracker_store import MaskingSQLTrackerStore
from settings import PROJECT_ROOT
from tests.conftest import make_tracker
from tests.verified_drafts import submit_verified
from training.facts import default_catalogue
from webapp import create_app

DOMAIN_YAML = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
PASSWORD = "correct horse battery staple"
SCOPE_ANSWERS = {  # the data concerned, as the citizen chooses it
    "hdh_project": "Un projet de recherche du Health Data Hub",
    "health_insurance": "Mes données de l'Assurance maladie (SNDS)",
}
SAMPLE_ANSWERS = {  # what a citizen types, by validation rule
    NAME: {"first_name": "Zéphyrine", "last_name": "Quincampoix"},
    EMAIL: "zephyrine.q@example.fr",
}


def typed_answer(field: str, kind: str, scope: str) -> str:
    rule = FIELDS[field].validation
    if rule == SCOPE:
        return SCOPE_ANSWERS[scope]
    if rule == NAME:
        return SAMPLE_ANSWERS[NAME][field]
    if rule == DESCRIPTION:
        return f"Réponse {field.replace('_', ' ')} pour la demande {kind}"
    return SAMPLE_ANSWERS[rule]


def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN_YAML))
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e["event"] == "slot"}


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
def test_the_kind_has_its_rasa_data(kind):
    form = DOMAIN_YAML["forms"][kind.form]
    assert form["required_slots"] == [*kind.fields, "request_confirmed", "email_code"]
    assert kind.intent in DOMAIN_YAML["intents"]
    assert f"validate_{kind.form}" in DOMAIN_YAML["actions"]
    for field in kind.fields:
        assert f"action_ask_{field}" in DOMAIN_YAML["actions"]
        assert field in DOMAIN_YAML["slots"]
    assert any(fact.offers_request == kind.name for fact in default_catalogue()), "a fact offers this request"
    # The buttons that start it and correct its fields pass the message guard as buttons.
    assert check_text(f"/{kind.intent}").text == f"/{kind.intent}"
    for field in kind.fields:
        payload = f'/correct_field{{"request_field":"{field}"}}'
        assert check_text(payload).text == payload


@pytest.mark.parametrize(
    "kind, scope",
    [(k, s) for k in KINDS.values() for s in SCOPE_ANSWERS],
    ids=[f"{k}-{s}" for k in KINDS for s in SCOPE_ANSWERS],
)
def test_every_kind_goes_from_questions_to_letter_csv_and_masked_log(kind, scope, tmp_path, monkeypatch):
    monkeypatch.setenv("MDS_VAR_DIR", str(tmp_path))
    app_url, tracker_url = f"sqlite:///{tmp_path / 'app.db'}", f"sqlite:///{tmp_path / 'conversations.db'}"
    monkeypatch.setenv("DATABASE_URL", app_url)
    repo = RequestRepository(app_url)
    validation = getattr(request_form_validation, f"Validate{kind.name.capitalize()}RequestForm")()
    sender = None
    stored_values = {}
    fields = kind.fields_for(scope)  # e.g. no reason for an objection about the SNDS
    for step, field in enumerate(fields, start=1):
        ask = getattr(request_form_questions, "Ask" + "".join(p.capitalize() for p in field.split("_")))()
        known = {k: v for k, v in stored_values.items() if k == "data_scope"}
        tracker = make_tracker("inform", "", active_loop={"name": kind.form}, slots={"requested_slot": field, **known})
        questions, _ = run(ask, tracker)
        assert FIELDS[field].question in questions[0]["text"]
        assert questions[0]["custom"]["form"]["step"] == step
        if step > 1:  # the number of steps is known once the data concerned is
            assert questions[0]["custom"]["form"] == {"name": kind.form, "step": step, "steps": len(fields) + 2}
        tracker = make_tracker(
            "inform",
            typed_answer(field, kind.name, scope),
            active_loop={"name": kind.form},
            slots={"requested_slot": field, "invalid_answers": 0.0, **known},
        )
        if sender is not None:
            tracker.sender_id = sender
        sender = tracker.sender_id
        messages, slots = run(validation, tracker)
        assert slots.get(field) is not None, f"{field} refused: {messages}"
        stored_values[field] = slots[field]

    # The summary shows every answer and offers to correct every field.
    tracker = make_tracker(
        "inform",
        "",
        active_loop={"name": kind.form},
        slots={"requested_slot": "request_confirmed", "data_scope": scope},
    )
    tracker.sender_id = sender
    summary, _ = run(request_form_questions.AskRequestConfirmed(), tracker)
    assert kind.label in summary[0]["text"] and kind.article in summary[0]["text"]
    for field, value in stored_values.items():
        shown = SCOPE_LABELS[value] if FIELDS[field].validation == SCOPE else value
        assert f"{FIELDS[field].summary_label} : {shown}" in summary[0]["text"]
        assert f'/correct_field{{"request_field":"{field}"}}' in [b["payload"] for b in summary[0]["buttons"]]

    # Stored, then the letter states the right and every answer the controller needs.
    request = submit_verified(repo, sender)
    assert request.kind == kind.name and request.answers == stored_values
    letter = compose_letter(request).as_text()
    assert kind.article in letter and kind.label[0].upper() + kind.label[1:] in letter
    for field in kind.own_fields:
        if field in fields:
            assert f"« {stored_values[field]} »" in letter
    for field in kind.fields_not_asked(scope):
        assert FIELDS[field].summary_label not in summary[0]["text"] and getattr(request, field) is None
    assert "None" not in letter and "{" not in letter

    # The console's CSV has every answer in its column.
    create_operator(repo, "agent.dpo", PASSWORD, role="dpo")
    client = create_app(app_url, tracker_url).test_client()
    page = client.get("/console/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post("/console/connexion", data={"identifiant": "agent.dpo", "mot_de_passe": PASSWORD, "csrf": token})
    rows = list(csv.DictReader(io.StringIO(client.get("/console/demandes.csv").get_data(as_text=True)), delimiter=";"))
    assert len(rows) == 1 and rows[0]["kind"] == kind.name
    for field, value in stored_values.items():
        if field != "data_scope":
            assert rows[0][field] == value

    # The conversation log keeps none of the personal answers in clear.
    slots_yaml = "".join(f"  {f}: {{type: text, mappings: [{{type: custom}}]}}\n" for f in kind.fields)
    domain = Domain.from_yaml(
        f'version: "3.1"\nslots:\n  requested_slot: {{type: any, mappings: [{{type: custom}}]}}\n{slots_yaml}'
    )
    events = [ActionExecuted("action_listen")]
    for field, value in stored_values.items():
        events += [
            SlotSet("requested_slot", field),
            UserUttered(typed_answer(field, kind.name, scope), {"name": "inform"}),
            SlotSet(field, value),
        ]
    asyncio.run(
        MaskingSQLTrackerStore(domain=domain, url=tracker_url).save(
            DialogueStateTracker.from_events(sender, events, slots=domain.slots)
        )
    )
    with sa.create_engine(tracker_url).connect() as connection:
        stored_log = " ".join(connection.execute(sa.text("SELECT data FROM events")).scalars())
    for field in fields:
        # Only a choice among fixed options may be non-personal: anything typed freely is masked.
        assert FIELDS[field].personal or FIELDS[field].validation == SCOPE
        if FIELDS[field].personal:
            assert field in PERSONAL_SLOTS
            assert stored_values[field] not in stored_log and typed_answer(field, kind.name, scope) not in stored_log
