"""The console's side of the request lifecycle over HTTP (real Flask app, SQLite and PostgreSQL):
the queue's deadlines and filters, the transmission and extension forms, the e-mails sent to the
citizen on the request page, and the development mail page."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re

import markupsafe
import pytest

from console.accounts import create_operator
from devtools.databases import throwaway_database
from devtools.servers import free_port
from gdpr import deadlines
from gdpr.deadlines import legal_deadline
from gdpr.kinds import CONTROLLERS
from gdpr.requests import RequestRepository, change_status, status_history
from mail.sink import MaildirSink, last_messages
from tests.stored_requests import insert_request
from webapp import create_app

PASSWORD = "correct horse battery staple"
HDH, CNAM = CONTROLLERS["hdh_project"], CONTROLLERS["health_insurance"]


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, tmp_path, monkeypatch):
    monkeypatch.setenv("MDS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nothing listens: e-mails stay queued
    with throwaway_database(request.param, tmp_path / "app.db") as url:
        create_operator(RequestRepository(url), "agent.dpo", PASSWORD, role="dpo")
        application = create_app(url, f"sqlite:///{tmp_path / 'conversations.db'}")
        application.config["TESTING"] = True
        yield application


@pytest.fixture
def repo(app):
    return app.config["REPOSITORY"]


def token_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


@pytest.fixture
def client(app):
    client = app.test_client()
    token = token_of(client.get("/console/connexion").get_data(as_text=True))
    response = client.post(
        "/console/connexion", data={"identifiant": "agent.dpo", "mot_de_passe": PASSWORD, "csrf": token}
    )
    assert response.status_code == 302
    return client


def page_of(client, path):
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def post(client, path, data, page=None):
    """POST a console form with the session's CSRF token (every console page carries it)."""
    token = token_of(page or page_of(client, "/console/demandes"))
    return client.post(path, data={"csrf": token, **data})


def escaped(text: str) -> str:
    """As Jinja writes it in a page."""
    return str(markupsafe.escape(text))


def today():
    return deadlines.today()


# --- The queue -------------------------------------------------------------------------
def test_the_queue_shows_days_left_with_colours_and_sorts_by_urgency(client, repo):
    t = today()
    received = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=20)
    made = {
        name: insert_request(repo, received_at=received + dt.timedelta(minutes=i), deadline=deadline)
        for i, (name, deadline) in enumerate(
            [
                ("green", t + dt.timedelta(days=10)),
                ("amber", t + dt.timedelta(days=9)),
                ("red", t + dt.timedelta(days=4)),
                ("late", t - dt.timedelta(days=3)),
                ("new", None),
                ("new2", None),
                ("closed", t + dt.timedelta(days=2)),
            ]
        )
    }
    # The older of the two not yet transmitted was recorded first.
    older = insert_request(repo, received_at=received - dt.timedelta(days=5), deadline=None)
    change_status(repo, made["closed"].reference, "traitée", None, "agent.dpo")
    page = page_of(client, "/console/demandes")
    rows = {
        reference: row
        for row in re.findall(r"<tr class=.*?</tr>", page, re.S)
        for reference in re.findall(r">(HDH-\d{4}-\d{6})</a>", row)
    }

    def badge(name):
        return rows[made[name].reference]

    assert 'fr-badge--success">10 jours restants' in badge("green")
    assert 'fr-badge--warning">9 jours restants' in badge("amber")
    assert 'fr-badge--error">4 jours restants' in badge("red")
    assert 'fr-badge--error">en retard de 3 j' in badge("late")
    assert 'fr-badge--info">à transmettre' in badge("new")
    assert "fr-label--disabled" in badge("closed") and ">close<" in badge("closed")
    assert not any("fr-label--disabled" in rows[made[n].reference] for n in ("green", "new", "late"))
    order = re.findall(r">(HDH-\d{4}-\d{6})</a>", page)
    expected = [older] + [made[n] for n in ("new", "new2", "late", "red", "amber", "green", "closed")]
    assert order == [r.reference for r in expected]


def test_the_queue_filters_by_status_and_controller_and_the_csv_keeps_the_filters(client, repo):
    hdh = insert_request(repo, data_scope="hdh_project")
    cnam = insert_request(repo, data_scope="health_insurance", first_name="Ali")
    cnam_done = insert_request(repo, data_scope="health_insurance", first_name="Léa")
    change_status(repo, cnam_done.reference, "en cours", None, "agent.dpo")
    listed = page_of(client, "/console/demandes")
    assert all(r.reference in listed for r in (hdh, cnam, cnam_done))
    assert f'<option value="{escaped(CNAM)}"' in listed, "the controllers are offered as a filter"
    by_controller = client.get("/console/demandes", query_string={"responsable": CNAM}).get_data(as_text=True)
    assert hdh.reference not in by_controller and cnam.reference in by_controller
    assert cnam_done.reference in by_controller
    both = client.get("/console/demandes", query_string={"responsable": CNAM, "statut": "reçue"}).get_data(as_text=True)
    assert cnam.reference in both and cnam_done.reference not in both and hdh.reference not in both
    link = html.unescape(re.search(r'href="([^"]*demandes\.csv[^"]*)"', both).group(1))
    assert "statut=re%C3%A7ue" in link and "responsable=" in link
    exported = client.get(link).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(exported), delimiter=";"))
    assert [r["reference"] for r in rows] == [cnam.reference]
    for column in ("deadline_start", "transmitted_on", "transmitted_to", "transmission_channel", "initial_deadline"):
        assert column in rows[0]
    everything = list(csv.DictReader(io.StringIO(page_of(client, "/console/demandes.csv")), delimiter=";"))
    assert len(everything) == 3
    for value in ("' OR 1=1 --", "%", "x" * 5000):
        assert client.get("/console/demandes", query_string={"responsable": value}).status_code == 200


# --- Transmission and extension forms --------------------------------------------------
@pytest.mark.parametrize(
    "path",
    ["/console/demandes/HDH-2026-000001/transmission", "/console/demandes/HDH-2026-000001/prolongation"],
)
def test_the_forms_need_a_login_and_the_csrf_token(app, client, repo, path):
    request = insert_request(repo, received_at=dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.timezone.utc))
    assert request.reference == "HDH-2026-000001"
    data = {"date_transmission": today().isoformat(), "canal": "courriel", "mois": "1", "motif_prolongation": "x"}
    anonymous = app.test_client().post(path, data=data)
    assert anonymous.status_code == 302 and "/console/connexion" in anonymous.headers["Location"]
    refused = client.post(path, data=data)
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    assert client.post(path, data={**data, "csrf": "forged"}).status_code == 400
    after = repo.find_by_reference(request.reference)
    assert after.transmitted_on is None and after.extended_at is None
    assert len(status_history(repo, request.reference)) == 1


def test_transmission_form_records_it_and_errors_keep_what_was_typed(client, repo):
    request = insert_request(repo, received_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3))
    path = f"/console/demandes/{request.reference}"
    page = page_of(client, path)
    assert "Pas encore transmise" in page and "Pas encore commencé" in page
    assert "Échéance indicative" not in page
    assert f'id="organisation" name="organisation" maxlength="200" value="{escaped(HDH)}"' in page
    assert f'name="date_transmission" max="{today().isoformat()}" value="{today().isoformat()}"' in page
    assert "Prolonger le délai" not in page, "no deadline runs yet: no extension"
    future = (today() + dt.timedelta(days=1)).isoformat()
    typed = {"organisation": "CPAM <Sarthe>", "canal": "messagerie sécurisée", "date_transmission": future}
    error = post(client, f"{path}/transmission", typed, page)
    text = error.get_data(as_text=True)
    assert error.status_code == 400 and "est dans le futur" in text
    assert 'value="CPAM &lt;Sarthe&gt;"' in text and '<option value="messagerie sécurisée" selected>' in text
    assert f'value="{future}"' in text
    bad_date = post(client, f"{path}/transmission", {**typed, "date_transmission": "demain"}, page)
    assert bad_date.status_code == 400 and "Indiquez la date de la transmission" in bad_date.get_data(as_text=True)
    unknown = post(client, f"{path}/transmission", {**typed, "canal": "fax", "date_transmission": ""}, page)
    assert unknown.status_code == 400
    assert repo.find_by_reference(request.reference).transmitted_on is None
    done = post(client, f"{path}/transmission", {**typed, "date_transmission": today().isoformat()}, page)
    assert done.status_code == 302
    stored = repo.find_by_reference(request.reference)
    assert stored.transmitted_to == "CPAM <Sarthe>" and stored.deadline == legal_deadline(today())
    page = page_of(client, path)
    assert f"Transmise le {today().strftime('%d/%m/%Y')} à CPAM &lt;Sarthe&gt;, par messagerie sécurisée" in page
    assert f"Échéance en vigueur : <strong>{stored.deadline.strftime('%d/%m/%Y')}</strong>" in page
    assert "Transmission au responsable" in page and "Enregistrer la transmission" not in page
    again = post(client, f"{path}/transmission", {**typed, "date_transmission": today().isoformat()}, page)
    assert again.status_code == 400 and "déjà été transmise" in again.get_data(as_text=True)


def test_extension_form_needs_a_reason_and_works_once(client, repo):
    request = insert_request(repo, received_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3))
    path = f"/console/demandes/{request.reference}"
    page = page_of(client, path)
    done = post(client, f"{path}/transmission", {"canal": "courriel", "date_transmission": today().isoformat()}, page)
    assert done.status_code == 302
    page = page_of(client, path)
    assert "Prolonger le délai" in page
    no_reason = post(client, f"{path}/prolongation", {"mois": "1", "motif_prolongation": "  "}, page)
    text = no_reason.get_data(as_text=True)
    assert no_reason.status_code == 400 and "doit être motivée" in text
    assert 'id="mois-1" name="mois" value="1" checked' in text, "the operator's choice is kept"
    three = post(client, f"{path}/prolongation", {"mois": "3", "motif_prolongation": "Complexe"}, page)
    assert three.status_code == 400 and "un ou de deux mois" in three.get_data(as_text=True)
    assert ">Complexe</textarea>" in three.get_data(as_text=True)
    ok = post(client, f"{path}/prolongation", {"mois": "2", "motif_prolongation": "Demande complexe"}, page)
    assert ok.status_code == 302
    stored = repo.find_by_reference(request.reference)
    assert stored.deadline == deadlines.extended_deadline(today(), 2)
    assert stored.initial_deadline == legal_deadline(today())
    page = page_of(client, path)
    assert "Prolongé le" in page and "Demande complexe" in page
    assert f"Échéance initiale : {stored.initial_deadline.strftime('%d/%m/%Y')}" in page
    assert "Prolonger le délai" not in page and "Prolongation du délai" in page
    twice = post(client, f"{path}/prolongation", {"mois": "1", "motif_prolongation": "Encore"}, page)
    assert twice.status_code == 400 and "déjà été prolongé" in twice.get_data(as_text=True)
    assert [h["action"] for h in status_history(repo, request.reference)] == ["statut", "transmission", "prolongation"]


def test_the_status_form_refuses_the_status_the_request_already_has(client, repo):
    request = insert_request(repo)
    path = f"/console/demandes/{request.reference}"
    same = post(client, path, {"statut": "reçue", "statut_vu": "reçue"})
    assert same.status_code == 400 and "déjà le statut « reçue »" in same.get_data(as_text=True)
    assert "Aucun courriel pour cette demande" in page_of(client, path)


# --- E-mails on the request page, delivered through a real SMTP sink -------------------
def test_the_request_page_lists_the_emails_and_warns_when_an_address_is_refused(client, repo, tmp_path, monkeypatch):
    sink = MaildirSink(tmp_path / "mail", port=0, refuse=lambda address: address.startswith("refuse"))
    sink.start()
    try:
        monkeypatch.setenv("SMTP_URL", sink.url)
        good = insert_request(repo, email="jeanne@example.fr")
        bad = insert_request(repo, email="refuse@example.fr")
        for request in (good, bad):
            path = f"/console/demandes/{request.reference}"
            assert post(client, path, {"statut": "en cours", "statut_vu": "reçue"}).status_code == 302
    finally:
        sink.stop()
    [delivered] = last_messages(tmp_path / "mail")
    assert delivered["to"] == "jeanne@example.fr" and "en cours" in delivered["subject"]
    page = page_of(client, f"/console/demandes/{good.reference}")
    assert "Courriels envoyés au demandeur" in page and "Changement de statut" in page
    assert ">envoyé<" in page and html.escape(delivered["message_id"]) in page
    assert "adresse refusée" not in page
    page = page_of(client, f"/console/demandes/{bad.reference}")
    assert ">refusé<" in page and "adresse refusée : contactez le demandeur par un autre moyen" in page
    assert 'fr-alert--warning' in page


# --- The development mail page ---------------------------------------------------------
def test_the_development_mail_page_lists_the_sink_messages(app, client, repo, tmp_path, monkeypatch):
    sink = MaildirSink(tmp_path / "mail", port=0)
    sink.start()
    try:
        monkeypatch.setenv("SMTP_URL", sink.url)
        request = insert_request(repo, first_name="<i>Jeanne</i>")
        assert post(client, f"/console/demandes/{request.reference}", {"statut": "en cours"}).status_code == 302
    finally:
        sink.stop()
    assert "Courriels (développement)" in page_of(client, "/console/demandes")
    page = page_of(client, "/console/courriels")
    assert f"Votre demande {request.reference} est en cours de traitement" in page
    assert "Bonjour &lt;i&gt;Jeanne&lt;/i&gt;" in page and "<i>Jeanne" not in page
    anonymous = app.test_client().get("/console/courriels")
    assert anonymous.status_code == 302 and "/console/connexion" in anonymous.headers["Location"]


@pytest.mark.parametrize(
    "smtp_url",
    [
        "smtps://user:secret@smtp.example.org:465",
        "smtp+starttls://user:secret@127.0.0.1:587",
        "smtp://mail.example.org:25",
        "smtp://10.0.0.5:8025",
        "smtp://127.0.0.1:notaport",
    ],
)
def test_the_development_mail_page_is_a_404_unless_mail_goes_to_the_loopback(client, monkeypatch, smtp_url):
    monkeypatch.setenv("SMTP_URL", smtp_url)
    assert client.get("/console/courriels").status_code == 404
    assert "Courriels (développement)" not in page_of(client, "/console/demandes")
