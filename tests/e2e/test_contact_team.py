"""« Écrire à l'équipe » end to end over REST (issue #21): offered after a fallback and on demand,
the question pre-filled and masked, the address proven by a code read from the Maildir, the
message recorded with its reference and acknowledged by e-mail."""

from __future__ import annotations

import pytest

from devtools.mailbox import latest_code, messages_to, wait_for_messages
from gdpr.requests import RequestRepository
from team_inbox.messages import TeamInbox
from tests.e2e.replies import customs, form_step, new_sender, texts

pytestmark = pytest.mark.servers
WRITE = "Écrire à l'équipe"


def buttons(replies):
    return [b["title"] for r in replies for b in r.get("buttons", [])]


def recorded(replies):
    return [p["team_message"] for p in customs(replies) if "team_message" in p]


class Citizen:
    def __init__(self, assistant, mail_dir):
        self.assistant, self.mail_dir = assistant, mail_dir
        self.sender = new_sender("contact")
        self.address = f"{self.sender}@example.fr"

    def say(self, text):
        return self.assistant.say(self.sender, text)

    def prove_address(self):
        replies = self.say("/affirm")  # the consent
        assert form_step(replies) == {"name": "contact_team_form", "step": 4, "steps": 4}
        return self.say(latest_code(self.mail_dir, self.address))


def test_after_a_fallback_the_question_goes_to_the_team_prefilled(assistant, mail_dir, app_database_url):
    citizen = Citizen(assistant, mail_dir)
    declined = assistant.declined_message()
    replies = citizen.say(declined)
    assert any("fallback" in p for p in customs(replies)) and WRITE in buttons(replies)

    replies = citizen.say("/contact_team")
    assert form_step(replies) == {"name": "contact_team_form", "step": 1, "steps": 4}
    assert f"« {declined} »" in texts(replies) and "Envoyer cette question" in buttons(replies)
    assert form_step(citizen.say("/affirm"))["step"] == 2
    assert form_step(citizen.say(citizen.address))["step"] == 3
    replies = citizen.prove_address()
    [message] = recorded(replies)
    assert message["reference"].startswith("MSG-") and "Message enregistré" in texts(replies)
    assert "jours ouvrés" in texts(replies)

    stored = TeamInbox(RequestRepository(app_database_url)).get(message["reference"])
    assert stored.question == declined and stored.email == citizen.address and stored.status == "nouveau"
    [ack] = wait_for_messages(mail_dir, citizen.address, 1, message["reference"])
    assert "répondra par e-mail" in ack["text"] and declined in ack["text"]


def test_on_demand_a_typed_question_is_stored_masked(assistant, mail_dir, app_database_url):
    citizen = Citizen(assistant, mail_dir)
    replies = citizen.say("je veux parler à quelqu'un")
    assert WRITE in buttons(replies)
    citizen.say("/contact_team")
    replies = citizen.say("mon numéro est 1 85 05 78 006 084 36, pouvez-vous vérifier mon dossier ?")
    assert "sécurité sociale" in texts(replies) and form_step(replies)["step"] == 1
    question = "Je m'appelle Marie Kerbrat, j'ai un diabète : mon médecin voit-il mes données du SNDS ?"
    assert form_step(citizen.say(question))["step"] == 2
    citizen.say(citizen.address)
    [message] = recorded(citizen.prove_address())
    stored = TeamInbox(RequestRepository(app_database_url)).get(message["reference"])
    assert "Kerbrat" not in stored.question and "diabète" not in stored.question
    assert "[nom masqué]" in stored.question and "SNDS" in stored.question


def test_no_consent_no_message_and_cancel_records_nothing(assistant, mail_dir, app_database_url):
    citizen = Citizen(assistant, mail_dir)
    citizen.say("/contact_team")
    citizen.say("Combien de projets utilisent les données de l'Assurance maladie cette année ?")
    citizen.say(citizen.address)
    replies = citizen.say("/deny")
    assert "Sans votre accord" in texts(replies) and form_step(replies)["step"] == 3
    assert messages_to(mail_dir, citizen.address) == [], "no code is sent before the consent"
    replies = citizen.say("annuler")
    assert "annulé" in texts(replies)
    inbox = TeamInbox(RequestRepository(app_database_url))
    assert inbox.count_for_sender(citizen.sender) == 0
    assert RequestRepository(app_database_url).get_draft(citizen.sender) is None


def test_in_the_browser_the_citizen_writes_and_an_operator_answers_by_email(
    browser, web_app, assistant, mail_dir, app_database_url
):
    """Widget → « Écrire à l'équipe » → code from the Maildir; console → answer → e-mail."""
    from console.accounts import create_operator
    from tests.e2e.test_widget_browser import ask, open_widget, widget_page

    address = f"{new_sender('navigateur')}@example.fr"
    declined = assistant.declined_message()
    with widget_page(browser, web_app) as page:
        open_widget(page)
        reply = ask(page, declined)
        before = page.locator(".mds-bot").count()
        reply.get_by_role("button", name=WRITE).click()
        page.locator(".mds-bot").nth(before).wait_for(timeout=30000)
        page.get_by_text("Étape 1 sur 4").last.wait_for(timeout=30000)
        before = page.locator(".mds-bot").count()
        page.locator(".mds-bot").last.get_by_role("button", name="Envoyer cette question").click()
        page.get_by_text("Étape 2 sur 4").last.wait_for(timeout=30000)
        ask(page, address)
        page.get_by_text("Étape 3 sur 4").last.wait_for(timeout=30000)
        page.locator(".mds-bot").last.get_by_role("button", name="Oui, j'accepte").click()
        page.get_by_text("Étape 4 sur 4").last.wait_for(timeout=30000)
        ask(page, latest_code(mail_dir, address))
        page.get_by_text("Message enregistré").wait_for(timeout=30000)
        reference = next(
            word.strip(".,") for word in page.locator(".mds-bot").last.inner_text().split() if word.startswith("MSG-")
        )
    assert len(wait_for_messages(mail_dir, address, 1, reference)) == 1  # the acknowledgement

    create_operator(RequestRepository(app_database_url), "agent.messages", "un mot de passe assez long", role="dpo")
    console = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    console.goto(web_app.url + "/console/messages")
    console.get_by_label("Identifiant").fill("agent.messages")
    console.get_by_label("Mot de passe").fill("un mot de passe assez long")
    console.get_by_role("button", name="Se connecter").click()
    console.get_by_role("link", name=reference).click()
    console.get_by_text(declined).first.wait_for()
    console.locator("textarea#reponse").fill(
        "Bonjour, cette question sort du champ de ce service : merci de votre message."
    )
    console.get_by_role("button", name="Envoyer la réponse").click()
    console.get_by_text("répondu").first.wait_for()
    console.close()
    answers = wait_for_messages(mail_dir, address, 2, reference)
    assert len(answers) == 2 and "sort du champ de ce service" in answers[-1]["text"]
    assert TeamInbox(RequestRepository(app_database_url)).get(reference).status == "répondu"
