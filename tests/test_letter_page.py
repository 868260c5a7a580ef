"""The printable letter: right content, only for whoever holds the link, text escaped."""

from __future__ import annotations

import pytest

from gdpr.letters import compose_letter
from gdpr.requests import RequestRepository
from tests.verified_drafts import submit_verified
from webapp import create_app


@pytest.fixture
def stored(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    repo = RequestRepository(url)
    answers = {
        "data_scope": "health_insurance",
        "first_name": "Jeanne",
        "last_name": "Dupont",
        "email": "jeanne@example.fr",
        "wrong_data": "<script>alert(1)</script>",
        "correct_data": "mars 2024",
    }
    for slot, value in answers.items():
        repo.save_answer("c1", "rectification", slot, value)
    return url, submit_verified(repo, "c1")


def test_letter_cites_article_deadline_and_cnil(stored):
    _, request = stored
    text = compose_letter(request).as_text()
    assert "article 16 du RGPD" in text and "un mois" in text and "CNIL" in text
    assert "Assurance maladie" in text and request.reference in text
    assert "Jeanne Dupont" in text and "jeanne@example.fr" in text


def test_letter_page_needs_the_key_and_escapes_text(stored):
    url, request = stored
    client = create_app(url).test_client()
    page = client.get(f"/lettre/{request.reference}?cle={request.letter_key}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert" not in body
    assert "Où l'envoyer" in body and "assurance-maladie.ameli.fr" in body, "where to send it, as sourced"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    for bad in (
        f"/lettre/{request.reference}?cle=wrong",
        f"/lettre/{request.reference}",
        "/lettre/HDH-2026-999999?cle=x",
    ):
        response = client.get(bad)
        assert response.status_code == 404 and "Jeanne" not in response.get_data(as_text=True)


@pytest.mark.parametrize("scope", ["health_insurance", "hdh_project"])
def test_an_objection_letter_asks_what_the_law_allows_for_the_data_concerned(tmp_path, scope):
    repo = RequestRepository(f"sqlite:///{tmp_path / 'app.db'}")
    answers = {
        "data_scope": scope,
        "first_name": "Jeanne",
        "last_name": "Dupont",
        "email": "jeanne@example.fr",
        "objection_reason": "je ne souhaite pas que mes données servent",
    }
    for slot, value in answers.items():
        repo.save_answer("c1", "objection", slot, value)
    text = compose_letter(submit_verified(repo, "c1")).as_text()
    if scope == "health_insurance":
        # For the SNDS: non-availability for projects (L.1461-7), never an end to reimbursements.
        assert "L.1461-7" in text and "ne soient pas mises à disposition" in text
        assert "je m'oppose au traitement" not in text
        assert text.index("Destinataire : Caisse d'Assurance maladie") < text.index("Objet")
    else:
        assert "article 21 du RGPD" in text and "situation particulière" in text
        assert "Destinataire : Plateforme des données de santé (Health Data Hub)" in text
    assert "gratuit (article 12.5 du RGPD)" in text
    assert "à compléter à la main" in text
    assert "préparée avec le service « Mes données de santé »" in text
