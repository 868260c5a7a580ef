"""« Cette réponse vous a-t-elle aidé ? » end to end: REST, action server, database, console."""

from __future__ import annotations

import uuid

import pytest

from devtools.console_client import logged_in_client

pytestmark = pytest.mark.servers


def feedback_of(replies):
    offers = [r["custom"]["feedback"] for r in replies if "feedback" in r.get("custom", {})]
    assert offers, replies
    return offers[-1]


def test_a_rating_is_recorded_changeable_and_shown_in_the_console(assistant, tracker_store_url, app_database_url):
    citizen = f"feedback-{uuid.uuid4().hex[:8]}"
    answer = assistant.say(citizen, "Qu'est-ce que le cloud act ?")
    offer = feedback_of(answer)
    fact_id = next(r["custom"]["fact_id"] for r in answer if "fact_id" in r.get("custom", {}))
    yes, no = offer["buttons"]

    reasons = assistant.say(citizen, no["payload"])
    assert "Qu'est-ce qui n'allait pas" in reasons[0]["text"]
    wrong = next(b for b in reasons[0]["buttons"] if b["title"] == "Semble faux ou dépassé")
    done = assistant.say(citizen, wrong["payload"])
    assert "l'équipe relira cette réponse" in done[0]["text"]

    # An optional comment: asked, kept in the conversation log masked like any message.
    add_comment = next(b for b in done[0]["buttons"] if b["title"] == "Ajouter un commentaire")
    asked = assistant.say(citizen, add_comment["payload"])
    assert asked[0]["text"].startswith("Votre commentaire")
    surname = "Vasseur" + uuid.uuid4().hex[:4].translate(str.maketrans("0123456789", "ghijklmnop"))
    thanks = assistant.say(citizen, f"Je m'appelle Odile {surname}, la date citée me semble dépassée")
    assert "commentaire est enregistré" in thanks[0]["text"], thanks

    client = logged_in_client(tracker_store_url, app_database_url)
    page = client.get("/console/faits-a-revoir").get_data(as_text=True)
    assert fact_id in page and "semble faux ou dépassé" in page
    assert f"/console/conversations/{citizen}" in page, "the item links to the conversation"
    dashboard = client.get("/console/tableau-de-bord").get_data(as_text=True)
    assert "Semble faux ou dépassé : 1" in dashboard
    transcript = client.get(f"/console/conversations/{citizen}").get_data(as_text=True)
    assert "la date citée me semble dépassée" in transcript and surname not in transcript
    assert "[nom masqué]" in transcript

    # A change of mind replaces the rating: the fact leaves « Faits à revoir » for this reason.
    assert assistant.say(citizen, yes["payload"])[0]["text"] == "Merci, votre avis est enregistré."
    page = client.get("/console/faits-a-revoir").get_data(as_text=True)
    assert f"/console/conversations/{citizen}" not in page

    # The conversation goes on normally after rating.
    after = assistant.say(citizen, "Qu'est-ce que le SNDS ?")
    assert any(r.get("custom", {}).get("fact_id") == "snds_presentation" for r in after), after


def test_the_console_pages_need_a_login(web_app):
    import requests

    response = requests.get(f"{web_app.url}/console/faits-a-revoir", allow_redirects=False, timeout=10)
    assert response.status_code in (302, 303) and "connexion" in response.headers["Location"]
