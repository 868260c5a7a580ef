"""Single sign-on to the console (issue #22): the whole authorization code flow against a real
OpenID provider process (oidc-provider-mock, tests/oidc_provider.py) and the real web app (Flask
test client), on SQLite and PostgreSQL.

An account is found by its e-mail address, then by the `sub` recorded at that first login; an
unknown identity is refused and nothing is created. Each check of the callback is shown to refuse
what it exists for: a forged state, a replayed callback, an ID token the provider issued to another
client (aud), for another login (nonce), under another issuer name (iss), re-signed with another
key (signature), already expired (exp). Each refusal test checks the reason logged, so it fails
when its check is removed (another check catching the token later would log another reason).
The provider does not enforce PKCE itself: the tests check that the console sends the challenge
and the matching verifier. The token substitutions go through the relay in front of the provider:
the console receives, at its token request, a genuine answer of the same provider issued for
something else."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa
from joserfc import jws
from joserfc.jwk import RSAKey
from prometheus_client import REGISTRY

from console.accounts import OperatorError, create_operator, email_changes, set_email
from console.permissions import ADMIN, DPO, LECTEUR
from devtools.databases import throwaway_database
from devtools.servers import free_port
from gdpr.requests import RequestRepository
from storage.schema import operators
from tests.oidc_provider import (
    MISSING,
    MOCK_PYTHON,
    OidcProviderMock,
    ProviderProxy,
    authenticate_at_provider,
    set_user,
    tokens_for,
)
from webapp import create_app

CLIENT_ID = "console-mes-donnees-de-sante"
CLIENT_SECRET = "secret-de-la-console-pour-les-tests"
PASSWORD = "correct horse battery staple"
CALLBACK = "http://localhost:8080/console/connexion/sso/retour"
AGENT_SUB = "agent-dpo-sub-7f3a"
AGENT_EMAIL = "agent.dpo@exemple.gouv.fr"


# --- the provider, and the console configured for it ------------------------------------------
def _provider(directory, token_max_age=None):
    if not MOCK_PYTHON.exists():
        pytest.fail(MISSING)
    mock = OidcProviderMock(directory, token_max_age=token_max_age).start()
    return mock, ProviderProxy(mock.url).start()


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    mock, proxy = _provider(tmp_path_factory.mktemp("oidc"))
    yield proxy
    proxy.stop()
    mock.stop()


@pytest.fixture(scope="module")
def expiring_provider(tmp_path_factory):
    """A provider whose tokens expire ten minutes before they are issued."""
    mock, proxy = _provider(tmp_path_factory.mktemp("oidc-expired"), token_max_age=-600)
    yield proxy
    proxy.stop()
    mock.stop()


class Console:
    def __init__(self, app, repo, proxy):
        self.app, self.repo, self.proxy = app, repo, proxy

    def browser(self):
        return self.app.test_client()

    def start(self, client, suivant=None) -> str:
        """Click the login page's button: the provider's authorization URL the browser is sent to."""
        page = client.get("/console/connexion").get_data(as_text=True)
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        path = "/console/connexion/sso" + (f"?suivant={suivant}" if suivant else "")
        response = client.post(path, data={"csrf": token})
        assert response.status_code == 200, response.get_data(as_text=True)
        return leaving_for(response, self.proxy.url)

    def back(self, client, url: str):
        """The browser follows the provider's redirect to the console's callback."""
        assert url.startswith(CALLBACK + "?"), url
        split = urlsplit(url)
        return client.get(f"{split.path}?{split.query}")

    def sign_in(self, client, sub=AGENT_SUB, suivant=None):
        return self.back(client, authenticate_at_provider(self.start(client, suivant), sub))

    def operator(self, username):
        with self.repo.engine.connect() as connection:
            return connection.execute(sa.select(operators).where(operators.c.username == username)).mappings().first()


def _console(request, tmp_path, monkeypatch, proxy, **env):
    monkeypatch.setenv("MDS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("OIDC_ISSUER", proxy.url)
    monkeypatch.setenv("OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("OIDC_CLIENT_SECRET", CLIENT_SECRET)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    kind = getattr(request, "param", "sqlite")
    with throwaway_database(kind, tmp_path / "app.db") as url:
        repo = RequestRepository(url)
        create_operator(repo, "agent.dpo", PASSWORD, role=DPO)
        create_operator(repo, "agent.admin", PASSWORD, role=ADMIN)
        create_operator(repo, "agent.lecteur", PASSWORD, role=LECTEUR)
        set_email(repo, "agent.dpo", " Agent.DPO@Exemple.gouv.fr ", "test")
        app = create_app(url, f"sqlite:///{tmp_path / 'conversations.db'}")
        app.config["TESTING"] = True
        yield Console(app, repo, proxy)


@pytest.fixture(params=["sqlite", "postgresql"])
def console(request, tmp_path, monkeypatch, provider):
    yield from _console(request, tmp_path, monkeypatch, provider)
    provider.replace_next.clear()


@pytest.fixture
def agent(provider):
    """The operator as the provider knows them: a verified professional address."""
    set_user(provider.url, AGENT_SUB, {"email": AGENT_EMAIL, "email_verified": True})
    return AGENT_SUB


def leaving_for(response, provider_url: str) -> str:
    """Where a page that moves on to the provider by itself (Refresh, and a link) sends the browser."""
    refresh = response.headers["Refresh"]
    assert refresh.startswith("0; url=" + provider_url + "/")
    url = refresh[len("0; url=") :]
    assert f'href="{html.escape(url)}"' in response.get_data(as_text=True)
    return url


def refusal_reasons(caplog):
    return [
        record.getMessage().split(": ", 1)[1].split(" ", 1)[0]
        for record in caplog.records
        if record.name == "console.oidc" and record.getMessage().startswith("console SSO refused:")
    ]


def failed_sso_logins() -> float:
    return REGISTRY.get_sample_value("mds_console_failed_logins_total", {"reason": "sso"}) or 0.0


def assert_refused(console, client, response, caplog, reason):
    assert response.status_code == 403
    page = html.unescape(response.get_data(as_text=True))
    assert "Connexion refusée" in page
    assert refusal_reasons(caplog) == [reason]
    assert client.get("/console/").status_code == 302, "no session was opened"
    return page


# --- the login page -----------------------------------------------------------------------------
def test_the_button_appears_only_when_single_sign_on_is_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("MDS_VAR_DIR", str(tmp_path))
    for name in ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_LABEL"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(f"sqlite:///{tmp_path / 'app.db'}", f"sqlite:///{tmp_path / 'c.db'}")
    page = app.test_client().get("/console/connexion").get_data(as_text=True)
    assert "ProConnect" not in page and "/console/connexion/sso" not in page
    monkeypatch.setenv("OIDC_ISSUER", "https://proconnect.exemple/api/v2")
    monkeypatch.setenv("OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("OIDC_CLIENT_SECRET", CLIENT_SECRET)
    page = app.test_client().get("/console/connexion?suivant=/console/demandes").get_data(as_text=True)
    assert "Se connecter avec ProConnect" in page
    assert 'action="/console/connexion/sso?suivant=/console/demandes"' in page
    assert 'name="mot_de_passe"' in page, "passwords keep working beside it"
    monkeypatch.setenv("OIDC_LABEL", "Se connecter avec l'annuaire du ministère")
    page = html.unescape(app.test_client().get("/console/connexion").get_data(as_text=True))
    assert "Se connecter avec l'annuaire du ministère" in page


def test_an_unreachable_provider_leaves_the_password_form(tmp_path, monkeypatch):
    monkeypatch.setenv("MDS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("OIDC_ISSUER", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("OIDC_CLIENT_SECRET", CLIENT_SECRET)
    client = create_app(f"sqlite:///{tmp_path / 'app.db'}", f"sqlite:///{tmp_path / 'c.db'}").test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/connexion").get_data(as_text=True)).group(1)
    response = client.post("/console/connexion/sso", data={"csrf": token})
    assert response.status_code == 503
    page = html.unescape(response.get_data(as_text=True))
    assert "Le service de connexion unique ne répond pas" in page and 'name="mot_de_passe"' in page


def test_starting_single_sign_on_needs_the_csrf_token(console):
    client = console.browser()
    client.get("/console/connexion")
    assert client.post("/console/connexion/sso").status_code == 400


# --- successful logins --------------------------------------------------------------------------
def test_an_operator_signs_in_by_email_then_by_sub(console, agent, caplog):
    caplog.set_level(logging.INFO, logger="console.oidc")
    client = console.browser()
    url = console.start(client, suivant="/console/demandes")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == CALLBACK
    assert query["scope"] == "openid email"
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32  # ProConnect's minimum
    assert query["code_challenge_method"] == "S256"

    response = console.back(client, authenticate_at_provider(url, agent))
    assert response.status_code == 200
    assert response.headers["Refresh"] == "0; url=/console/demandes"
    # PKCE: the token request carried the verifier whose S256 hash the authorization request sent.
    (token_request,) = console.proxy.requests_to("/oauth2/token")[-1:]
    verifier = token_request.form["code_verifier"][0]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == query["code_challenge"]
    assert token_request.form["code"] and token_request.form["redirect_uri"] == [CALLBACK]

    page = client.get("/console/demandes").get_data(as_text=True)
    assert "Se déconnecter (agent.dpo, dpo)" in page, "the account's own role"
    stored = console.operator("agent.dpo")
    assert (stored["sso_issuer"], stored["sso_subject"], stored["email"]) == (console.proxy.url, agent, AGENT_EMAIL)
    assert "console SSO login: operator agent.dpo (account found by email)" in caplog.text

    # The provider's address changes (a new name): the `sub` recorded at the first login finds the account.
    set_user(console.proxy.url, agent, {"email": "prenom.nouveau-nom@exemple.gouv.fr", "email_verified": True})
    other = console.browser()
    assert console.sign_in(other).status_code == 200
    assert "Se déconnecter (agent.dpo, dpo)" in other.get("/console/demandes").get_data(as_text=True)
    assert "console SSO login: operator agent.dpo (account found by sub)" in caplog.text


def test_without_pkce_for_a_provider_that_refuses_it(request, tmp_path, monkeypatch, provider, agent):
    console = next(_console(request, tmp_path, monkeypatch, provider, OIDC_PKCE="0"))
    client = console.browser()
    url = console.start(client)
    assert "code_challenge" not in url
    assert console.back(client, authenticate_at_provider(url, agent)).status_code == 200
    assert "code_verifier" not in console.proxy.requests_to("/oauth2/token")[-1].form
    assert client.get("/console/demandes").status_code == 200


def test_logout_also_ends_the_providers_session(console, agent):
    client = console.browser()
    console.sign_in(client)
    page = client.get("/console/demandes").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    stale = client.get_cookie("session").value
    response = client.post("/console/deconnexion", data={"csrf": token})
    assert response.status_code == 200
    leave = leaving_for(response, console.proxy.url)
    end = urlsplit(leave)
    assert f"{end.scheme}://{end.netloc}{end.path}" == console.proxy.url + "/oauth2/end_session"
    params = {k: v[0] for k, v in parse_qs(end.query).items()}
    assert params["post_logout_redirect_uri"] == "http://localhost:8080/console/connexion/sso/deconnexion"
    assert params["id_token_hint"].count(".") == 2 and len(params["state"]) >= 32
    # At the provider: its logout page, then back to the console with the state.
    form = requests.get(leave, timeout=10).text
    target = re.search(r'name="redirect_uri" value="([^"]+)"', form).group(1).replace("&amp;", "&")
    confirm = requests.post(
        console.proxy.url + "/oauth2/end_session/confirm", data={"redirect_uri": target}, allow_redirects=False
    )
    back = urlsplit(confirm.headers["Location"])
    page = html.unescape(client.get(f"{back.path}?{back.query}").get_data(as_text=True))
    assert "Vous êtes déconnecté de la console et du fournisseur d'identité." in page
    # The session cookie from before the logout no longer opens anything.
    replay = console.browser()
    replay.set_cookie("session", stale)
    assert replay.get("/console/demandes").status_code == 302


# --- refusals -------------------------------------------------------------------------------------
def test_an_unknown_identity_is_refused_and_no_account_is_created(console, caplog):
    set_user(
        console.proxy.url, "inconnu-sub-42", {"email": "personne.inconnue@exemple.gouv.fr", "email_verified": True}
    )
    before = failed_sso_logins()
    with console.repo.engine.connect() as connection:
        accounts = connection.execute(sa.select(sa.func.count()).select_from(operators)).scalar()
    client = console.browser()
    response = console.sign_in(client, sub="inconnu-sub-42")
    page = assert_refused(console, client, response, caplog, "unknown")
    assert "Aucun compte de la console n'est associé à cette identité" in page
    assert "pas d'inscription en libre service" in page
    with console.repo.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(operators)).scalar() == accounts
    assert failed_sso_logins() == before + 1
    # Logged without personal data: the address and the sub only as hashes.
    assert "console SSO: no account for subject " in caplog.text
    assert "personne.inconnue" not in caplog.text and "inconnu-sub-42" not in caplog.text


def test_an_address_the_provider_has_not_verified_opens_nothing(console, caplog):
    set_user(console.proxy.url, "non-verifie", {"email": AGENT_EMAIL, "email_verified": False})
    client = console.browser()
    assert_refused(console, client, console.sign_in(client, sub="non-verifie"), caplog, "unknown")
    assert console.operator("agent.dpo")["sso_subject"] is None


def test_a_forged_state_is_refused(console, agent, caplog):
    client = console.browser()
    back = authenticate_at_provider(console.start(client), agent)
    real_state = parse_qs(urlsplit(back).query)["state"][0]
    forged = back.replace(real_state, "etat-forge-" + real_state[11:])
    assert_refused(console, client, console.back(client, forged), caplog, "state")
    # A login started in another browser (login CSRF): that browser's state is not this one's.
    caplog.clear()
    victim = console.browser()
    assert_refused(console, victim, console.back(victim, back), caplog, "state")
    assert "lien expiré, déjà utilisé ou ouvert dans un autre navigateur" in html.unescape(
        console.back(victim, back).get_data(as_text=True)
    )


def test_a_replayed_callback_is_refused(console, agent, caplog):
    client = console.browser()
    back = authenticate_at_provider(console.start(client), agent)
    pending = client.get_cookie("mds_console_sso", path="/console/connexion/sso").value
    assert console.back(client, back).status_code == 200
    # The same browser again: the state was used.
    assert_refused(console, console.browser(), console.back(client, back), caplog, "state")
    # A copy of the pending login taken before the callback, in another browser: used too.
    caplog.clear()
    copy = console.browser()
    copy.set_cookie("mds_console_sso", pending, path="/console/connexion/sso")
    assert_refused(console, copy, console.back(copy, back), caplog, "state")


def test_a_login_refused_at_the_provider(console, agent, caplog):
    client = console.browser()
    back = authenticate_at_provider(console.start(client), agent, deny=True)
    assert "error=access_denied" in back
    page = assert_refused(console, client, console.back(client, back), caplog, "provider_error")
    assert "annulée ou refusée par le fournisseur d'identité" in page


def _substituted(console, client, agent, caplog, answer, reason):
    """A login whose token answer is replaced by `answer(ours, nonce)` before the console reads it."""
    url = console.start(client)
    nonce = parse_qs(urlsplit(url).query)["nonce"][0]
    replacement = answer(nonce)
    back = authenticate_at_provider(url, agent)
    console.proxy.replace_next["/oauth2/token"] = lambda ours: (
        replacement(ours) if callable(replacement) else replacement
    )
    page = assert_refused(console, client, console.back(client, back), caplog, reason)
    assert "jeton d'identité non valable" in page
    assert not console.proxy.replace_next, "the token endpoint was reached"


def test_an_id_token_issued_to_another_client_is_refused(console, agent, caplog):
    # Signed by the provider, this login's nonce, the right issuer: only the audience is another application's.
    client = console.browser()
    _substituted(
        console,
        client,
        agent,
        caplog,
        lambda nonce: tokens_for(console.proxy.url, "autre-application", agent, nonce),
        "claim_aud",
    )


def test_an_id_token_of_another_login_is_refused(console, agent, caplog):
    client = console.browser()
    other_nonce = "nonce-d-une-autre-connexion-0123456789abcdef"
    _substituted(
        console,
        client,
        agent,
        caplog,
        lambda nonce: tokens_for(console.proxy.url, CLIENT_ID, agent, other_nonce),
        "claim_nonce",
    )


def test_an_id_token_of_another_issuer_is_refused(console, agent, caplog):
    # The same provider process and key reached under another name: its tokens name another issuer.
    upstream = console.proxy.upstream
    assert upstream != console.proxy.url
    client = console.browser()
    _substituted(
        console, client, agent, caplog, lambda nonce: tokens_for(upstream, CLIENT_ID, agent, nonce), "claim_iss"
    )


def test_an_id_token_signed_with_another_key_is_refused(console, agent, caplog):
    def resigned(ours):
        header = json.loads(base64.urlsafe_b64decode(ours["id_token"].split(".")[0] + "=="))
        claims = base64.urlsafe_b64decode(ours["id_token"].split(".")[1] + "==")
        forged_header = {key: value for key, value in header.items() if key in ("alg", "kid", "typ")}
        forged = jws.serialize_compact(forged_header, claims, RSAKey.generate_key(2048))
        return {**ours, "id_token": forged}

    client = console.browser()
    _substituted(console, client, agent, caplog, lambda nonce: resigned, "signature")


def test_user_info_about_someone_else_is_refused(console, agent, caplog):
    # The ID token is this login's; the user info answer is about another `sub` with the agent's address.
    client = console.browser()
    back = authenticate_at_provider(console.start(client), agent)
    console.proxy.replace_next["/userinfo"] = lambda info: {**info, "sub": "quelqu-un-d-autre"}
    assert_refused(console, client, console.back(client, back), caplog, "userinfo_sub")
    assert console.operator("agent.dpo")["sso_subject"] is None


def test_signed_user_info_is_checked_like_the_id_token(console, agent, caplog):
    # ProConnect answers the user info as a JWT signed with its keys: one signed with another key is refused.
    client = console.browser()
    back = authenticate_at_provider(console.start(client), agent)
    console.proxy.replace_next["/userinfo"] = lambda info: jws.serialize_compact(
        {"alg": "RS256"}, json.dumps({**info, "iss": console.proxy.url, "aud": CLIENT_ID}), RSAKey.generate_key(2048)
    )
    assert_refused(console, client, console.back(client, back), caplog, "signature")


def test_an_expired_id_token_is_refused(request, tmp_path, monkeypatch, expiring_provider, caplog):
    set_user(expiring_provider.url, AGENT_SUB, {"email": AGENT_EMAIL, "email_verified": True})
    console = next(_console(request, tmp_path, monkeypatch, expiring_provider))
    client = console.browser()
    page = assert_refused(console, client, console.sign_in(client), caplog, "expired")
    assert "jeton d'identité non valable" in page


# --- the accounts' addresses ----------------------------------------------------------------------
def test_an_administrator_sets_the_address_and_it_is_audited(console):
    with pytest.raises(OperatorError, match="déjà celle du compte « agent.dpo »"):
        set_email(console.repo, "agent.lecteur", AGENT_EMAIL.upper(), "agent.admin")
    with pytest.raises(OperatorError, match="non valable"):
        set_email(console.repo, "agent.lecteur", "pas une adresse", "agent.admin")
    client = console.browser()
    page = client.get("/console/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post("/console/connexion", data={"identifiant": "agent.admin", "mot_de_passe": PASSWORD, "csrf": token})
    page = client.get("/console/comptes").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    response = client.post(
        "/console/comptes/adresse",
        data={"identifiant": "agent.lecteur", "email": "Lecteur@Exemple.gouv.fr", "csrf": token},
    )
    assert response.status_code == 302
    assert console.operator("agent.lecteur")["email"] == "lecteur@exemple.gouv.fr"
    latest = email_changes(console.repo)[0]
    assert (latest["operator"], latest["old_email"], latest["new_email"], latest["changed_by"]) == (
        "agent.lecteur",
        None,
        "lecteur@exemple.gouv.fr",
        "agent.admin",
    )
    page = html.unescape(client.get("/console/comptes").get_data(as_text=True))
    assert "lecteur@exemple.gouv.fr" in page and "Changements d'adresse de connexion unique" in page


def test_a_new_address_forgets_the_identity_linked_before_and_ends_the_sessions(console, agent):
    client = console.browser()
    console.sign_in(client)
    assert console.operator("agent.dpo")["sso_subject"] == agent
    assert client.get("/console/demandes").status_code == 200
    set_email(console.repo, "agent.dpo", "autre.agent@exemple.gouv.fr", "agent.admin")
    assert console.operator("agent.dpo")["sso_subject"] is None
    assert client.get("/console/demandes").status_code == 302
