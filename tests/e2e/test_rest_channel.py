"""End to end over the public REST channel, with the real Rasa and action servers."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from devtools.mailbox import wait_for_messages
from gdpr.requests import RequestRepository
from tests.e2e.replies import confirm_with_code

pytestmark = pytest.mark.servers


def sender() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}"


def customs(replies):
    return [r["custom"] for r in replies if "custom" in r]


def texts(replies):
    return " ".join(r.get("text", "") for r in replies)


def test_greeting_presents_an_automated_assistant(assistant):
    replies = assistant.say(sender(), "Bonjour")
    assert "assistant automatique" in texts(replies)
    assert any(r.get("buttons") for r in replies)


@pytest.mark.parametrize(
    "question, fact_id",
    [
        ("Combien de temps mes données restent-elles dans le SNDS ?", "data_retention"),
        ("qui heberge les donnees de sante ?", "hosting_microsoft"),
        ("c'est quoi le cloud act", "cloud_act"),
    ],
)
def test_a_question_gets_its_fact_with_sources(assistant, catalogue, question, fact_id):
    replies = assistant.say(sender(), question)
    payloads = customs(replies)
    assert [p["fact_id"] for p in payloads if "fact_id" in p] == [fact_id]
    payload = next(p for p in payloads if "fact_id" in p)
    assert payload["sources"] and all(s["url"].startswith("https://") for s in payload["sources"])
    assert payload["verified_on"] == catalogue[fact_id].verified_on.isoformat()
    assert catalogue[fact_id].answer in texts(replies)
    buttons = [b for r in replies for b in r.get("buttons", [])]
    assert buttons and all(b["payload"].startswith("/ask_fact") for b in buttons)


def test_a_suggestion_button_answers_its_fact(assistant):
    replies = assistant.say(sender(), '/ask_fact{"fact_id":"consent"}')
    assert [p.get("fact_id") for p in customs(replies)] == ["consent"]


@pytest.mark.parametrize("question", ["j'ai mal au ventre depuis hier, que dois-je prendre ?", "qsdfjklm azerty"])
def test_out_of_scope_gets_a_fallback_never_a_fact(assistant, question):
    replies = assistant.say(sender(), question)
    payloads = customs(replies)
    assert any("fallback" in p for p in payloads)
    assert not any("fact_id" in p for p in payloads)
    assert texts(replies)


def test_conversation_history_survives_a_restart(assistant, tracker_store_url):
    citizen = sender()
    assistant.say(citizen, "Bonjour")
    assistant.say(citizen, "Qu'est-ce que le SNDS ?")
    assistant.restart()
    tracker = assistant.tracker(citizen)
    user_texts = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    assert user_texts == ["Bonjour", "Qu'est-ce que le SNDS ?"]
    engine = sa.create_engine(tracker_store_url)
    with engine.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT count(*) FROM events WHERE sender_id = :s AND type_name = 'user'"), {"s": citizen}
        ).scalar_one()
    assert stored == 2, "the conversation is in the SQLite tracker store"
    replies = assistant.say(citizen, "merci")
    assert texts(replies)


def answer(assistant, citizen, text):
    replies = assistant.say(citizen, text)
    assert replies, f"no reply to {text!r}"
    return replies


def form_step(replies):
    return next((p["form"] for p in customs(replies) if "form" in p), None)


class Conversation:
    """One citizen's conversation over REST, keeping a readable transcript."""

    def __init__(self, assistant):
        self.assistant, self.citizen, self.transcript = assistant, sender(), []

    def __call__(self, text):
        replies = answer(self.assistant, self.citizen, text)
        self.transcript.append(f"Citoyen : {text}")
        self.transcript.extend(f"Assistant : {r['text']}" for r in replies if r.get("text"))
        return replies

    def save(self, path):
        path.write_text("\n".join(self.transcript) + "\n", encoding="utf-8")


def test_full_erasure_request_then_its_status(assistant, app_database_url, tracker_store_url, results_dir, mail_dir):
    turn = Conversation(assistant)
    citizen = turn.citizen

    replies = turn("je veux faire effacer mes données")
    assert form_step(replies) == {"name": "erasure_request_form", "step": 1, "steps": 6}
    assert form_step(turn("Un projet de recherche du Health Data Hub"))["step"] == 2
    assert form_step(turn("Jeanne"))["step"] == 3
    assert form_step(turn("Dupont-Martin"))["step"] == 4
    replies = turn("jeanne.dupont@example.fr")
    assert form_step(replies)["step"] == 5
    assert "Dupont-Martin" in texts(replies) and "jeanne.dupont@example.fr" in texts(replies)
    replies = confirm_with_code(turn, mail_dir, "jeanne.dupont@example.fr")
    reference = next(p["request"]["reference"] for p in customs(replies) if "request" in p)
    assert re.fullmatch(r"HDH-\d{4}-\d{6}", reference)
    assert "Demande enregistrée" in texts(replies) and "adresse e-mail est vérifiée" in texts(replies)
    acknowledgement = wait_for_messages(mail_dir, "jeanne.dupont@example.fr", 1, "Accusé de réception")
    assert len(acknowledgement) == 1 and reference in acknowledgement[0]["subject"]

    stored = RequestRepository(app_database_url).find_by_reference(reference)
    assert (stored.first_name, stored.last_name, stored.email, stored.kind) == (
        "Jeanne",
        "Dupont-Martin",
        "jeanne.dupont@example.fr",
        "erasure",
    )

    replies = turn(f"où en est ma demande {reference} ?")
    assert form_step(replies) == {"name": "request_status_form", "step": 2, "steps": 2}
    replies = turn("jeanne.dupont@example.fr")
    status = next(p["request_status"] for p in customs(replies) if "request_status" in p)
    assert status["found"] is True and status["status"] == "reçue"
    turn.save(results_dir / "transcript-erasure.txt")

    # The conversation log holds none of the personal data given in the form.
    engine = sa.create_engine(tracker_store_url)
    with engine.connect() as connection:
        rows = (
            connection.execute(sa.text("SELECT data FROM events WHERE sender_id = :s"), {"s": citizen}).scalars().all()
        )
    log = "\n".join(rows)
    assert reference in log
    for secret in ("Jeanne", "Dupont-Martin", "jeanne.dupont@example.fr", "jeanne.dupont", stored.letter_key):
        assert secret not in log, f"{secret!r} stored in clear in the conversation log"
    assert "letter_url" not in status, "a status reply never carries the letter's key"


def test_rectification_with_a_digression(assistant, results_dir, mail_dir):
    turn = Conversation(assistant)

    assert form_step(turn("je veux faire rectifier mes données"))["name"] == "rectification_request_form"
    turn("Mes données de l'Assurance maladie (SNDS)")
    replies = turn("Au fait, combien de temps sont conservées les données du SNDS ?")
    assert any(p.get("fact_id") == "data_retention" for p in customs(replies))
    assert form_step(replies) == {"name": "rectification_request_form", "step": 2, "steps": 8}
    turn("Karim")
    turn("Benali")
    turn("karim.benali@example.org")
    turn("La date de mon séjour à l'hôpital est fausse")
    replies = turn("Le séjour a eu lieu en mars 2024, pas en mai")
    assert form_step(replies)["step"] == 7
    replies = confirm_with_code(turn, mail_dir, "karim.benali@example.org")
    assert any("request" in p for p in customs(replies))
    turn.save(results_dir / "transcript-rectification.txt")


def test_cancel_in_the_middle_of_a_form(assistant):
    citizen = sender()
    answer(assistant, citizen, "je veux m'opposer à l'utilisation de mes données")
    replies = answer(assistant, citizen, "annuler")
    assert "annulé" in texts(replies)
    replies = answer(assistant, citizen, "qu'est-ce que le health data hub ?")
    assert any(p.get("fact_id") == "hdh_presentation" for p in customs(replies))


def test_a_typed_nir_gets_a_reminder(assistant):
    replies = assistant.say(sender(), "mon numéro est 1 85 05 78 006 084 36, vous avez mes données ?")
    assert "sécurité sociale" in replies[0]["text"] and len(replies) > 1


def test_an_answer_the_form_refuses_is_masked_like_an_accepted_one(assistant, tracker_store_url):
    turn = Conversation(assistant)
    turn("je veux faire effacer mes données")
    assert form_step(turn("Un projet de recherche du Health Data Hub"))["step"] == 2
    replies = turn("Marie-Claire (épouse Dupontel)")
    assert form_step(replies)["step"] == 2, "the first name was refused"
    replies = turn("Au fait, combien de temps sont conservées les données du SNDS ?")
    assert any(p.get("fact_id") == "data_retention" for p in customs(replies))
    engine = sa.create_engine(tracker_store_url)
    with engine.connect() as connection:
        rows = (
            connection.execute(sa.text("SELECT data FROM events WHERE sender_id = :s"), {"s": turn.citizen})
            .scalars()
            .all()
        )
    log = "\n".join(rows)
    assert "Dupontel" not in log and "Marie-Claire" not in log


def test_suggestion_buttons_are_filled_without_templating_errors(assistant):
    log = assistant.workdir / f"rasa-{assistant.port}.log"
    before = log.read_text(errors="replace").count("interpolator.interpolate.text")
    replies = assistant.say(sender(), "Bonjour")
    replies += assistant.say(sender(), "Que savez-vous faire ?")
    payloads = [b["payload"] for r in replies for b in r.get("buttons") or []]
    assert payloads and all(p.startswith('/ask_fact{"fact_id":"') and p.endswith('"}') for p in payloads), payloads
    assert log.read_text(errors="replace").count("interpolator.interpolate.text") == before


@pytest.mark.parametrize(
    "text", ["mon mail est jean.dupont@example.org", "/resend_code", '/correct_field{"request_field":"email"}']
)
def test_a_form_answer_typed_outside_any_form_gets_one_honest_answer(assistant, text):
    """These intents only mean something in a form: outside one, the core fallback used to run
    ten times in a row (and trip the circuit breaker)."""
    replies = assistant.say(sender(), text)
    fallbacks = [p["fallback"] for p in customs(replies) if "fallback" in p]
    assert len(fallbacks) == 1, replies
    assert "momentanément indisponible" not in texts(replies)
