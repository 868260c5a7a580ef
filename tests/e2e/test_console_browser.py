"""The operator console in a real browser: log in, filter, review (réviseur), process a request (dpo)."""

from __future__ import annotations

import uuid

import pytest

from console.accounts import create_operator
from devtools.mailbox import wait_for_messages
from gdpr.requests import RequestRepository
from mail.outbox import deliver_due
from tests.verified_drafts import submit_verified

pytestmark = pytest.mark.servers
PASSWORD = "un mot de passe assez long"


def log_in(page, name):
    page.get_by_label("Identifiant").fill(name)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


def test_operator_reviews_a_fallback_and_processes_a_request(
    browser, web_app, assistant, app_database_url, results_dir, mail_dir, mail_sink
):
    repo = RequestRepository(app_database_url)
    create_operator(repo, "agent.navigateur", PASSWORD, role="réviseur")
    create_operator(repo, "agent.instruction", PASSWORD, role="dpo")
    token = uuid.uuid4().hex[:6]
    address = f"lou.{token}@example.fr"
    fallback_sender = f"browser-fallback-{token}"
    off_topic = assistant.declined_message()
    assistant.say(fallback_sender, off_topic)
    for slot, value in {
        "data_scope": "hdh_project",
        "first_name": "Lou",
        "last_name": "Bernard",
        "email": address,
    }.items():
        repo.save_answer(f"browser-req-{token}", "access", slot, value)
    reference = submit_verified(repo, f"browser-req-{token}").reference

    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page.goto(web_app.url + "/console/conversations")
    log_in(page, "agent.navigateur")
    page.get_by_role("heading", name="Conversations").wait_for()

    page.locator("label[for=repli]").click()  # DSFR draws the checkbox on its label
    assert page.get_by_label("Avec repli seulement").is_checked()
    page.get_by_role("button", name="Filtrer").click()
    page.get_by_role("link", name=fallback_sender).wait_for()
    page.screenshot(path=str(results_dir / "console-list.png"), full_page=True)
    page.get_by_role("link", name=fallback_sender).click()
    page.get_by_text(off_topic).wait_for()
    form = page.locator("form.review-form").first
    form.get_by_label("Étiquette du message").select_option("mal compris")
    form.get_by_label("Bonne intention ou bon fait").select_option("out_of_scope")
    form.get_by_role("button", name="Enregistrer la revue").click()
    page.get_by_text("« mal compris »").wait_for()
    page.screenshot(path=str(results_dir / "console-transcript.png"), full_page=True)

    # Requests are the DPO's (issue #22.1): the reviewer's menu does not offer them, nor does the server.
    assert page.get_by_role("link", name="Demandes", exact=True).count() == 0
    page.goto(web_app.url + f"/console/demandes/{reference}")
    page.get_by_text("Votre rôle (réviseur) ne permet pas d'ouvrir cette page.").wait_for()
    page.get_by_role("button", name="Se déconnecter").click()
    page.get_by_label("Identifiant").wait_for()
    page.goto(web_app.url + f"/console/demandes/{reference}")
    log_in(page, "agent.instruction")
    page.get_by_label("Nouveau statut").select_option("en cours")
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    page.locator("td", has_text="agent.instruction").wait_for()
    assert repo.find_by_reference(reference).status == "en cours"

    # Transmission, then an extension: each recorded once, each told to the citizen by e-mail.
    page.get_by_label("Moyen de transmission").select_option(index=0)
    page.get_by_role("button", name="Enregistrer la transmission").click()
    page.get_by_text("Pas encore transmise").wait_for(state="detached")
    stored = repo.find_by_reference(reference)
    assert stored.transmitted_on is not None and stored.deadline is not None
    page.get_by_label("Motif (obligatoire, communiqué au demandeur)").fill("demande complexe à instruire")
    page.get_by_role("button", name="Prolonger le délai").click()
    page.get_by_text("demande complexe à instruire").first.wait_for()
    assert repo.find_by_reference(reference).deadline > stored.deadline
    subjects = [m["subject"] for m in wait_for_messages(mail_dir, address, 3)]
    assert len(subjects) == 3, subjects  # status « en cours », transmission, extension: sent at once
    # The acknowledgement queued by the in-process submission waits for the sender (mail.sender).
    assert deliver_due(app_database_url, smtp_url=mail_sink.url)["sent"] == 1
    assert len(wait_for_messages(mail_dir, address, 4)) == 4
    page.screenshot(path=str(results_dir / "console-request.png"), full_page=True)

    page.goto(web_app.url + "/console/tableau-de-bord")
    page.get_by_role("img", name="Conversations par jour").wait_for()
    page.screenshot(path=str(results_dir / "console-dashboard.png"), full_page=True)
    page.close()


def test_feedback_pages_pass_the_accessibility_audit(browser, web_app, assistant, app_database_url, results_dir):
    """The dashboard's satisfaction table and « Faits à revoir » (issue #18.5), audited by axe-core."""
    from conversations import feedback
    from settings import PROJECT_ROOT

    repo = RequestRepository(app_database_url)
    create_operator(repo, "agent.avis", PASSWORD, role="réviseur")
    feedback.record(repo.engine, f"browser-avis-{uuid.uuid4().hex[:6]}", "abcdef01", "consent", False, "unclear")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True, locale="fr-FR")
    page = context.new_page()
    page.goto(web_app.url + "/console/faits-a-revoir")
    log_in(page, "agent.avis")
    for path, heading in (
        ("/console/faits-a-revoir", "Faits à revoir"),
        ("/console/tableau-de-bord", "Tableau de bord"),
    ):
        page.goto(web_app.url + path)
        page.get_by_role("heading", name=heading).first.wait_for()
        page.add_script_tag(path=str(PROJECT_ROOT / "webapp" / "static" / "vendor" / "axe.min.js"))
        result = page.evaluate(
            "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
        )
        assert result["violations"] == [], [(v["id"], v["impact"]) for v in result["violations"]]
    page.screenshot(path=str(results_dir / "console-satisfaction.png"), full_page=True)
    context.close()
