"""A request is recorded only once its e-mail address is proven by a code (issue #17), end to end
over REST with the real Rasa and action servers and a real SMTP sink whose Maildir is read."""

from __future__ import annotations

import datetime as dt
import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from devtools.mailbox import latest_code, messages_to, wait_for_messages
from gdpr.requests import RequestRepository
from storage.schema import email_verifications
from tests.e2e.replies import customs, form_step, new_sender, texts

pytestmark = pytest.mark.servers


class Citizen:
    def __init__(self, assistant, mail_dir):
        self.assistant, self.mail_dir = assistant, mail_dir
        self.sender = new_sender("lifecycle")
        self.address = f"{self.sender}@example.fr"

    def say(self, text):
        return self.assistant.say(self.sender, text)

    def reach_the_code_step(self):
        """An erasure request up to the code step; returns the replies that sent the code."""
        assert form_step(self.say("je veux faire effacer mes données"))["step"] == 1
        self.say("Un projet de recherche du Health Data Hub")
        self.say("Jeanne")
        self.say("Dupont")
        assert form_step(self.say(self.address))["step"] == 5
        replies = self.say("/affirm")
        assert form_step(replies) == {"name": "erasure_request_form", "step": 6, "steps": 6}
        assert f"un code à 6 chiffres à {self.address}" in texts(replies)
        return replies

    def code(self):
        return latest_code(self.mail_dir, self.address)

    def codes_received(self):
        return len(messages_to(self.mail_dir, self.address, "code de vérification"))


def recorded(replies):
    return [p["request"] for p in customs(replies) if "request" in p]


def wrong(code):
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_the_code_read_from_the_mailbox_records_the_request_and_the_acknowledgement_follows(
    assistant, mail_dir, app_database_url
):
    citizen = Citizen(assistant, mail_dir)
    citizen.reach_the_code_step()
    assert citizen.codes_received() == 1
    assert RequestRepository(app_database_url).count_for_sender(citizen.sender) == 0, "nothing recorded yet"
    replies = citizen.say(citizen.code())
    [request] = recorded(replies)
    assert "Demande enregistrée" in texts(replies) and "pas encore été transmise" in texts(replies)
    [ack] = wait_for_messages(mail_dir, citizen.address, 1, "Accusé de réception")
    assert request["reference"] in ack["subject"] and request["reference"] in ack["text"]
    for told in ("transmettre", "CNIL", "un mois", "/lettre/"):
        assert told in ack["text"], told
    assert ack["message_id"].startswith("<") and ack["message_id"].endswith(">")


def test_five_wrong_codes_then_a_new_code(assistant, mail_dir, app_database_url):
    citizen = Citizen(assistant, mail_dir)
    citizen.reach_the_code_step()
    code = citizen.code()
    for left in (4, 3, 2, 1):
        replies = citizen.say(wrong(code))
        assert f"Il vous reste {left} essai" in texts(replies) and not recorded(replies)
    replies = citizen.say(wrong(code))
    assert "5 essais" in texts(replies) and "Renvoyer le code" in texts(replies)
    replies = citizen.say(code)
    assert not recorded(replies) and "plus valable" in texts(replies), "the right code no longer works"
    replies = citizen.say("/resend_code")
    assert "Je viens d'envoyer un code" in texts(replies) and citizen.codes_received() == 2
    [request] = recorded(citizen.say(citizen.code()))
    assert RequestRepository(app_database_url).find_by_reference(request["reference"]).email == citizen.address


def test_an_expired_code_is_refused(assistant, mail_dir, app_database_url):
    citizen = Citizen(assistant, mail_dir)
    citizen.reach_the_code_step()
    engine = RequestRepository(app_database_url).engine
    with engine.begin() as connection:
        connection.execute(
            email_verifications.update()
            .where(email_verifications.c.sender_id == citizen.sender)
            .values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
        )
    replies = citizen.say(citizen.code())
    assert "expiré" in texts(replies) and not recorded(replies)
    assert form_step(replies)["step"] == 6, "the form still waits for a code"


def test_at_most_three_codes_an_hour(assistant, mail_dir):
    citizen = Citizen(assistant, mail_dir)
    citizen.reach_the_code_step()
    citizen.say("/resend_code")
    replies = citizen.say("je n'ai pas reçu le code")  # typed, not the button
    assert "Je viens d'envoyer un code" in texts(replies)
    replies = citizen.say("/resend_code")
    assert "déjà demandé 3 codes" in texts(replies)
    assert citizen.codes_received() == 3
    [request] = recorded(citizen.say(citizen.code()))  # the last code still works
    assert request["status"] == "reçue"


def test_cancel_at_the_code_step_records_nothing(assistant, mail_dir, app_database_url):
    citizen = Citizen(assistant, mail_dir)
    citizen.reach_the_code_step()
    code = citizen.code()
    replies = citizen.say("annuler")
    assert "annulé" in texts(replies)
    replies = citizen.say(code)
    assert not recorded(replies)
    repository = RequestRepository(app_database_url)
    assert repository.count_for_sender(citizen.sender) == 0 and repository.get_draft(citizen.sender) is None


def test_a_question_at_the_code_step_is_answered_then_the_code_is_asked_again(assistant, mail_dir):
    citizen = Citizen(assistant, mail_dir)
    citizen.reach_the_code_step()
    replies = citizen.say("Au fait, combien de temps sont conservées les données du SNDS ?")
    assert any(p.get("fact_id") == "data_retention" for p in customs(replies))
    assert form_step(replies)["step"] == 6 and citizen.codes_received() == 1, "no new code without asking"
    assert recorded(citizen.say(citizen.code()))


def test_the_code_sent_twice_at_once_records_one_request_and_one_acknowledgement(assistant, mail_dir, app_database_url):
    citizen = Citizen(assistant, mail_dir)
    citizen.reach_the_code_step()
    code = citizen.code()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(citizen.say, [code, code]))
    assert RequestRepository(app_database_url).count_for_sender(citizen.sender) == 1
    wait_for_messages(mail_dir, citizen.address, 2, "Accusé de réception", timeout=3)
    assert len(messages_to(mail_dir, citizen.address, "Accusé de réception")) == 1


def test_the_code_is_never_stored_in_clear(assistant, mail_dir, app_database_url, tracker_store_url):
    citizen = Citizen(assistant, mail_dir)
    citizen.reach_the_code_step()
    code = citizen.code()
    citizen.say(code)
    with RequestRepository(app_database_url).engine.connect() as connection:
        rows = connection.execute(
            sa.select(email_verifications).where(email_verifications.c.sender_id == citizen.sender)
        ).mappings()
        assert all(code not in str(dict(row)) for row in rows)
    with sa.create_engine(tracker_store_url).connect() as connection:
        stored = "\n".join(
            connection.execute(sa.text("SELECT data FROM events WHERE sender_id = :s"), {"s": citizen.sender})
            .scalars()
            .all()
        )
    # Six digits can occur by chance inside timestamps and hexadecimal ids: look for the code alone.
    assert not re.search(rf"(?<![0-9a-f.]){code}(?![0-9a-f])", stored), "the code is in the conversation log"
    user_texts = [e.get("text") for e in map(json.loads, stored.splitlines()) if e.get("event") == "user"]
    assert "[code masqué]" in user_texts


def test_an_objection_about_the_snds_needs_no_reason_and_one_about_a_project_does(
    assistant, mail_dir, app_database_url
):
    """L.1461-7, 5° CSP: anyone who asks has their SNDS data kept from research projects, with no
    reason; article 21 GDPR (a project on the Platform) requires one."""
    from tests.e2e.replies import confirm_with_code

    citizen = Citizen(assistant, mail_dir)
    citizen.say("je veux m'opposer à l'utilisation de mes données")
    assert form_step(citizen.say("Mes données de l'Assurance maladie (SNDS)")) == {
        "name": "objection_request_form",
        "step": 2,
        "steps": 6,
    }
    citizen.say("Jeanne")
    citizen.say("Dupont")
    summary = citizen.say(citizen.address)
    assert form_step(summary)["step"] == 5 and "récapitulatif" in texts(summary)
    assert "raisons" not in texts(summary).lower()
    [request] = recorded(confirm_with_code(citizen.say, mail_dir, citizen.address))
    stored = RequestRepository(app_database_url).find_by_reference(request["reference"])
    assert stored.kind == "objection" and stored.data_scope == "health_insurance" and stored.objection_reason is None

    other = Citizen(assistant, mail_dir)
    other.say("je veux m'opposer à l'utilisation de mes données")
    other.say("Un projet de recherche du Health Data Hub")
    other.say("Jeanne")
    other.say("Dupont")
    question = other.say(other.address)
    assert form_step(question) == {"name": "objection_request_form", "step": 5, "steps": 7}
    assert "situation particulière" in texts(question)
