"""Operator roles (issue #22.1): every console route × every role against the one permission table
(console/permissions.py), the hidden links, the « Comptes » page (role changes audited, sessions
ended, last administrator kept), `make operator NAME=… ROLE=…` and migration 0008. Real Flask app,
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import re
import threading

import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from console import accounts
from console.accounts import OperatorError, change_role, create_operator, role_changes
from console.permissions import ADMIN, DPO, HOME_ENDPOINTS, LECTEUR, PERMISSIONS, PUBLIC_ENDPOINTS, REVISEUR, ROLES
from console.permissions import allowed as role_allows
from devtools.databases import throwaway_database
from devtools.servers import free_port
from gdpr.requests import RequestRepository, status_history
from rasa_addons.tracker_store import MaskingSQLTrackerStore
from storage.schema import operators, reviews
from team_inbox.messages import TeamInbox
from tests.stored_messages import insert_message
from tests.stored_requests import insert_request
from webapp import create_app

PASSWORD = "correct horse battery staple"
SENDER = "conversation-roles"
ACCOUNTS = {LECTEUR: "agent.lecteur", REVISEUR: "agent.reviseur", DPO: "agent.dpo", ADMIN: "agent.admin"}
REFUSAL = "Votre rôle ({}) ne permet pas d'ouvrir cette page."
NAV = {
    "console.requests.requests_queue": "Demandes",
    "console.team_messages.messages": "Messages",
    "console.conversations.conversations": "Conversations",
    "console.dashboard.dashboard": "Tableau de bord",
    "console.facts_review.facts_to_review": "Faits à revoir",
    "console.operators.accounts": "Comptes",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, tmp_path, monkeypatch):
    monkeypatch.setenv("MDS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    # The local sink's address (the « Courriels (développement) » page exists); nothing listens.
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    with throwaway_database(request.param, tmp_path / "app.db") as url:
        repo = RequestRepository(url)
        for role, name in ACCOUNTS.items():
            create_operator(repo, name, PASSWORD, role=role)
        tracker_url = f"sqlite:///{tmp_path / 'conversations.db'}"
        domain = Domain.from_yaml('version: "3.1"')
        events = [
            ActionExecuted("action_listen"),
            UserUttered("qu'est-ce que le SNDS", {"name": "faq", "confidence": 0.4}),
            BotUttered("Je ne suis pas sûr", {"custom": {"fallback": "low_confidence"}}),
        ]
        asyncio.run(
            MaskingSQLTrackerStore(domain=domain, url=tracker_url).save(
                DialogueStateTracker.from_events(SENDER, events, slots=domain.slots)
            )
        )
        application = create_app(url, tracker_url)
        application.config["TESTING"] = True
        application.config["TEST_REQUEST"] = insert_request(repo, email="jeanne@example.fr").reference
        application.config["TEST_MESSAGE"] = insert_message(repo, sender_id=SENDER).reference
        yield application


def token_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def log_in(app, name):
    client = app.test_client()
    token = token_of(client.get("/console/connexion").get_data(as_text=True))
    response = client.post("/console/connexion", data={"identifiant": name, "mot_de_passe": PASSWORD, "csrf": token})
    assert response.status_code == 302, name
    client.get("/console/tableau-de-bord")  # every role opens it: the session gets its CSRF token
    return client


def session_token(client) -> str:
    with client.session_transaction() as stored:
        return stored["csrf"]


def console_rules(app, method):
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("console.") and method in rule.methods),
        key=lambda rule: rule.endpoint,
    )


def path_of(app, rule) -> str:
    """The rule's URL with real values: the request, the message and the conversation of the fixture."""
    values = {}
    for argument in rule.arguments:
        if argument == "sender_id":
            values[argument] = SENDER
        elif rule.endpoint.startswith("console.requests."):
            values[argument] = app.config["TEST_REQUEST"]
        elif rule.endpoint.startswith("console.team_messages."):
            values[argument] = app.config["TEST_MESSAGE"]
        else:
            raise AssertionError(f"no test value for <{argument}> of {rule.endpoint}")
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def url_of(app, endpoint: str) -> str:
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint)


def post_data(app, endpoint: str) -> dict:
    """What each form would send: accepted if the role allowed it (so a refusal proves the guard)."""
    return {
        "console.requests.request_detail": {"statut": "en cours"},
        "console.requests.request_transmission": {
            "date_transmission": dt.date.today().isoformat(),
            "organisation": "Health Data Hub",
            "canal": "courriel",
        },
        "console.requests.request_extension": {"mois": "1", "motif_prolongation": "demande complexe"},
        "console.team_messages.message_assign": {"a": ACCOUNTS[DPO]},
        "console.team_messages.message_answer": {"reponse": "Bonjour, voici notre réponse."},
        "console.conversations.transcript": {"etiquette": "à revoir", "note": "à relire"},
        "console.operators.change_role": {"identifiant": ACCOUNTS[LECTEUR], "role": REVISEUR},
    }.get(endpoint, {})


# --- The table -----------------------------------------------------------------------------------
def test_every_console_route_and_method_is_in_the_permission_table(app):
    listed = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method in PERMISSIONS.get(rule.endpoint, {}), (
                f"{method} {rule.rule} missing from console/permissions.py"
            )
            listed.add(rule.endpoint)
    assert listed == set(PERMISSIONS), "the permission table lists an endpoint that no longer exists"
    for endpoint, methods in PERMISSIONS.items():
        for method, roles in methods.items():
            assert roles <= set(ROLES), (endpoint, method)


def test_an_endpoint_missing_from_the_table_is_refused_to_every_role():
    for role in ROLES:
        assert not role_allows(role, "console.nouvelle_page.page")
        assert not role_allows(role, "console.dashboard.dashboard", "POST")
    assert not role_allows("inconnu", "console.dashboard.dashboard")


# --- The matrix ----------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
def test_every_page_for_every_role(app, role):
    client = log_in(app, ACCOUNTS[role])
    got, expected = {}, {}
    for rule in console_rules(app, "GET"):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        response = client.get(path_of(app, rule))
        got[rule.endpoint] = response.status_code
        if rule.endpoint == "console.home":
            expected[rule.endpoint] = 302
            assert response.headers["Location"].endswith(url_of(app, HOME_ENDPOINTS[role]))
        elif role_allows(role, rule.endpoint):
            expected[rule.endpoint] = 200
        else:
            expected[rule.endpoint] = 403
            page = html.unescape(response.get_data(as_text=True))
            assert REFUSAL.format(role) in page and "Accès refusé" in page, rule.endpoint
            assert response.headers["Cache-Control"] == "no-store"
    assert got == expected
    assert sorted(e for e, s in expected.items() if s == 200) == sorted(
        e for e in PERMISSIONS if role_allows(role, e) and e != "console.home" and "GET" in PERMISSIONS[e]
    )


@pytest.mark.parametrize("role", ROLES)
def test_every_form_for_every_role(app, role):
    """POST with the session's CSRF token: a refusal comes from the role, and changes nothing."""
    repo = app.config["REPOSITORY"]
    client = log_in(app, ACCOUNTS[role])
    token = session_token(client)
    rules = console_rules(app, "POST")
    rules.sort(key=lambda rule: rule.endpoint == "console.login.logout")  # logging out last
    got, expected = {}, {}
    for rule in rules:
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        response = client.post(path_of(app, rule), data={"csrf": token, **post_data(app, rule.endpoint)})
        allowed = role_allows(role, rule.endpoint, "POST")
        got[rule.endpoint] = response.status_code == 403
        expected[rule.endpoint] = not allowed
        if not allowed:
            assert REFUSAL.format(role) in html.unescape(response.get_data(as_text=True))
    assert got == expected, "True: refused (403)"

    reference, message = app.config["TEST_REQUEST"], app.config["TEST_MESSAGE"]
    if role != DPO:
        assert repo.find_by_reference(reference).status == "reçue"
        assert repo.find_by_reference(reference).transmitted_on is None
        assert len(status_history(repo, reference)) == 1
        stored = TeamInbox(repo).get(message)
        assert stored.status == "nouveau" and stored.assigned_to is None and stored.answer is None
    if role != REVISEUR:
        with repo.engine.connect() as connection:
            assert connection.execute(sa.select(sa.func.count()).select_from(reviews)).scalar() == 0
    if role != ADMIN:
        assert role_of(repo, ACCOUNTS[LECTEUR]) == LECTEUR
    else:
        assert role_of(repo, ACCOUNTS[LECTEUR]) == REVISEUR


def test_without_login_every_page_leads_to_the_login_page(app):
    client = app.test_client()
    for rule in console_rules(app, "GET"):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        response = client.get(path_of(app, rule))
        assert response.status_code == 302 and "/console/connexion" in response.headers["Location"], rule.endpoint
    refused = client.post("/console/comptes/role", data={"identifiant": "agent.lecteur", "role": ADMIN})
    assert refused.status_code == 302 and "/console/connexion" in refused.headers["Location"]


@pytest.mark.parametrize("role", ROLES)
def test_the_menu_shows_only_the_pages_the_role_opens(app, role):
    client = log_in(app, ACCOUNTS[role])
    page = client.get("/console/tableau-de-bord").get_data(as_text=True)
    nav = page.split('<nav class="fr-mb-3w" aria-label="Console">')[1].split("</nav>")[0]
    shown = {label for label in NAV.values() if f">{label}</a>" in nav}
    assert shown == {label for endpoint, label in NAV.items() if role_allows(role, endpoint)}
    assert f"{ACCOUNTS[role]}, {role})" in nav
    assert ("corrections.yml" in page) == (role == REVISEUR), "the export link only for reviewers"
    transcript = client.get(f"/console/conversations/{SENDER}").get_data(as_text=True)
    assert ('name="etiquette"' in transcript) == (role == REVISEUR), "review forms only for reviewers"


def test_login_lands_on_the_roles_first_page(app):
    for role in ROLES:
        client = app.test_client()
        token = token_of(client.get("/console/connexion").get_data(as_text=True))
        client.post("/console/connexion", data={"identifiant": ACCOUNTS[role], "mot_de_passe": PASSWORD, "csrf": token})
        response = client.get("/console/", follow_redirects=True)
        assert response.status_code == 200, role


def test_a_message_can_only_be_assigned_to_whom_opens_the_messages(app):
    client = log_in(app, ACCOUNTS[DPO])
    path = f"/console/messages/{app.config['TEST_MESSAGE']}"
    page = client.get(path).get_data(as_text=True)
    assert f'<option value="{ACCOUNTS[DPO]}"' in page and f'<option value="{ACCOUNTS[LECTEUR]}"' not in page
    refused = client.post(f"{path}/attribution", data={"csrf": session_token(client), "a": ACCOUNTS[LECTEUR]})
    assert refused.status_code == 400
    assert "a le rôle lecteur : il ne peut pas ouvrir les messages" in html.unescape(refused.get_data(as_text=True))
    assert TeamInbox(app.config["REPOSITORY"]).get(app.config["TEST_MESSAGE"]).assigned_to is None


# --- « Comptes » -----------------------------------------------------------------------------------
def role_of(repo, name):
    with repo.engine.connect() as connection:
        return connection.execute(sa.select(operators.c.role).where(operators.c.username == name)).scalar()


def test_a_role_change_is_audited_and_applies_at_once(app):
    repo = app.config["REPOSITORY"]
    reader = log_in(app, ACCOUNTS[LECTEUR])
    assert reader.get("/console/demandes").status_code == 403
    admin = log_in(app, ACCOUNTS[ADMIN])
    page = admin.get("/console/comptes").get_data(as_text=True)
    assert all(name in page for name in ACCOUNTS.values())
    response = admin.post(
        "/console/comptes/role", data={"csrf": token_of(page), "identifiant": ACCOUNTS[LECTEUR], "role": DPO}
    )
    assert response.status_code == 302
    assert role_of(repo, ACCOUNTS[LECTEUR]) == DPO
    latest = role_changes(repo)[0]
    assert (latest["operator"], latest["old_role"], latest["new_role"], latest["changed_by"]) == (
        ACCOUNTS[LECTEUR],
        LECTEUR,
        DPO,
        ACCOUNTS[ADMIN],
    )
    page = admin.get("/console/comptes").get_data(as_text=True)
    row = next(r for r in re.findall(r'<tr class="role-change">(.*?)</tr>', page) if ACCOUNTS[LECTEUR] in r)
    assert f"<td>{LECTEUR}</td><td>{DPO}</td><td>{ACCOUNTS[ADMIN]}</td>" in row
    # The reader's open session ended: the new rights come with the next login.
    assert reader.get("/console/tableau-de-bord").status_code == 302
    assert log_in(app, ACCOUNTS[LECTEUR]).get("/console/demandes").status_code == 200
    # Creations are in the audit table too (old role empty).
    created = [c for c in role_changes(repo) if c["operator"] == ACCOUNTS[REVISEUR]]
    assert [(c["old_role"], c["new_role"], c["changed_by"]) for c in created] == [(None, REVISEUR, "ligne de commande")]


def test_the_last_administrator_keeps_the_role(app):
    repo = app.config["REPOSITORY"]
    admin = log_in(app, ACCOUNTS[ADMIN])
    before = len(role_changes(repo))
    for role in (LECTEUR, DPO):
        refused = admin.post(
            "/console/comptes/role", data={"csrf": session_token(admin), "identifiant": ACCOUNTS[ADMIN], "role": role}
        )
        assert refused.status_code == 400
        assert "dernier administrateur" in html.unescape(refused.get_data(as_text=True))
    assert role_of(repo, ACCOUNTS[ADMIN]) == ADMIN and len(role_changes(repo)) == before
    assert admin.get("/console/comptes").status_code == 200, "the refused change did not end the session"
    for data, message in (
        ({"identifiant": ACCOUNTS[DPO], "role": "superadmin"}, "Rôle inconnu"),
        ({"identifiant": "personne", "role": LECTEUR}, "Aucun compte opérateur"),
    ):
        refused = admin.post("/console/comptes/role", data={"csrf": session_token(admin), **data})
        assert refused.status_code == 400 and message in html.unescape(refused.get_data(as_text=True))
    # With a second administrator, the first may step down: its own session ends.
    change_role(repo, ACCOUNTS[DPO], ADMIN, ACCOUNTS[ADMIN])
    stepped = admin.post(
        "/console/comptes/role", data={"csrf": session_token(admin), "identifiant": ACCOUNTS[ADMIN], "role": LECTEUR}
    )
    assert stepped.status_code == 302 and role_of(repo, ACCOUNTS[ADMIN]) == LECTEUR
    assert admin.get("/console/comptes").status_code == 302  # to the login page
    with pytest.raises(OperatorError, match="dernier administrateur"):
        change_role(repo, ACCOUNTS[DPO], LECTEUR, "agent.x")


def test_two_administrators_demoting_each_other_at_once_leave_one(app):
    repo = app.config["REPOSITORY"]
    change_role(repo, ACCOUNTS[DPO], ADMIN, ACCOUNTS[ADMIN])
    outcomes, barrier = [], threading.Barrier(2)

    def demote(name, by):
        barrier.wait()
        try:
            outcomes.append(change_role(repo, name, LECTEUR, by))
        except OperatorError:
            outcomes.append("refusé")

    threads = [
        threading.Thread(target=demote, args=(ACCOUNTS[ADMIN], ACCOUNTS[DPO])),
        threading.Thread(target=demote, args=(ACCOUNTS[DPO], ACCOUNTS[ADMIN])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str) == [True, "refusé"]
    assert [role_of(repo, ACCOUNTS[name]) for name in (ADMIN, DPO)].count(ADMIN) == 1


# --- `make operator NAME=… ROLE=…` ---------------------------------------------------------------
def test_the_command_line_creates_with_a_role_and_changes_it_with_audit(app, monkeypatch, capsys):
    repo = app.config["REPOSITORY"]
    monkeypatch.setenv("DATABASE_URL", repo.url)
    monkeypatch.setenv("OPERATOR_PASSWORD", PASSWORD)
    assert accounts.main(["console.accounts", "agent.nouveau", ""]) == 0  # ROLE empty: lecteur
    assert role_of(repo, "agent.nouveau") == LECTEUR
    assert accounts.main(["console.accounts", "agent.relecture", "reviseur"]) == 0  # accent optional
    assert role_of(repo, "agent.relecture") == REVISEUR
    session = log_in(app, "agent.nouveau")
    monkeypatch.setenv("OPERATOR_PASSWORD", "un autre mot de passe jamais lu")
    assert accounts.main(["console.accounts", "agent.nouveau", "dpo"]) == 0
    assert "rôle dpo" in capsys.readouterr().out
    assert role_of(repo, "agent.nouveau") == DPO
    latest = role_changes(repo)[0]
    assert (latest["operator"], latest["old_role"], latest["new_role"], latest["changed_by"]) == (
        "agent.nouveau",
        LECTEUR,
        DPO,
        "ligne de commande",
    )
    assert session.get("/console/tableau-de-bord").status_code == 302, "the role change ended the session"
    assert log_in(app, "agent.nouveau").get("/console/demandes").status_code == 200, "password unchanged"
    # Without ROLE, an existing account keeps its role (its password is reset).
    monkeypatch.setenv("OPERATOR_PASSWORD", PASSWORD)
    assert accounts.main(["console.accounts", "agent.nouveau"]) == 0
    assert role_of(repo, "agent.nouveau") == DPO
    assert accounts.main(["console.accounts", "agent.nouveau", "chef"]) == 1
    assert "Rôle inconnu" in capsys.readouterr().err
    assert accounts.main(["console.accounts", ACCOUNTS[ADMIN], LECTEUR]) == 1, "the last administrator"
    assert role_of(repo, ACCOUNTS[ADMIN]) == ADMIN


# --- Migration 0008 --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_makes_existing_operators_administrators(kind, tmp_path):
    from alembic import command
    from alembic.config import Config

    from storage.database import MIGRATIONS_DIR, engine_for, migrate

    with throwaway_database(kind, tmp_path / "app.db") as url:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with engine_for(url).begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0007")
            for name in ("agent.ancien", "agent.autre"):
                connection.execute(
                    sa.text(
                        "INSERT INTO operators (username, password_hash, created_at, session_version) "
                        "VALUES (:name, 'x', :now, 1)"
                    ),
                    {"name": name, "now": dt.datetime.now(dt.timezone.utc)},
                )
        migrate(url)
        repo = RequestRepository(url)
        assert {role_of(repo, name) for name in ("agent.ancien", "agent.autre")} == {ADMIN}
        audit = [(c["operator"], c["old_role"], c["new_role"], c["changed_by"]) for c in role_changes(repo)]
        assert sorted(audit) == [
            ("agent.ancien", None, ADMIN, "migration 0008"),
            ("agent.autre", None, ADMIN, "migration 0008"),
        ]
        create_operator(repo, "agent.neuf", PASSWORD)
        assert role_of(repo, "agent.neuf") == LECTEUR, "new accounts are readers unless told otherwise"
        engine_for(url).dispose()
