"""Single sign-on in a real browser (Chromium): the web app served as `make run` serves it, the
OpenID provider process on another site (127.0.0.1 against localhost), so that the browser applies
its SameSite rules as in production, where the session cookie (SameSite=Strict) is not sent on the
provider's redirect back; then logout through the provider."""

from __future__ import annotations

import pytest

from console.accounts import create_operator, set_email
from devtools.servers import WebApp, free_port
from gdpr.requests import RequestRepository
from storage.database import migrate
from tests.oidc_provider import MISSING, MOCK_PYTHON, OidcProviderMock, ProviderProxy, set_user

PASSWORD = "un mot de passe assez long"


@pytest.fixture(scope="module")
def sso_web_app(tmp_path_factory):
    if not MOCK_PYTHON.exists():
        pytest.fail(MISSING)
    directory = tmp_path_factory.mktemp("sso-browser")
    mock = OidcProviderMock(directory).start()
    proxy = ProviderProxy(mock.url).start()
    database = f"sqlite:///{directory / 'app.db'}"
    migrate(database)
    repo = RequestRepository(database)
    create_operator(repo, "agent.sso", PASSWORD, role="dpo")
    set_email(repo, "agent.sso", "agent.sso@exemple.gouv.fr", "test")
    set_user(proxy.url, "sub-agent-sso", {"email": "agent.sso@exemple.gouv.fr", "email_verified": True})
    port = free_port()
    app = WebApp(
        directory,
        port,
        env={
            "MDS_VAR_DIR": str(directory),
            "DATABASE_URL": database,
            "TRACKER_STORE_URL": f"sqlite:///{directory / 'conversations.db'}",
            "PUBLIC_WEB_URL": f"http://localhost:{port}",
            "OIDC_ISSUER": proxy.url,
            "OIDC_CLIENT_ID": "console-navigateur",
            "OIDC_CLIENT_SECRET": "secret-navigateur",
        },
    ).start()
    yield f"http://localhost:{port}"
    app.stop()
    proxy.stop()
    mock.stop()


def test_an_operator_signs_in_and_out_with_the_provider_in_a_browser(browser, sso_web_app):
    page = browser.new_page(locale="fr-FR")
    page.goto(sso_web_app + "/console/demandes")  # not signed in: the login page, with the way back
    page.get_by_role("button", name="Se connecter avec ProConnect").click()
    page.get_by_placeholder("sub").fill("sub-agent-sso")  # the provider's own sign-in page
    page.get_by_role("button", name="Authorize").click()
    page.get_by_role("heading", name="Demandes").wait_for()
    assert page.url == sso_web_app + "/console/demandes"
    assert page.get_by_role("button", name="Se déconnecter (agent.sso, dpo)").is_visible()

    page.get_by_role("button", name="Se déconnecter (agent.sso, dpo)").click()
    page.get_by_role("button", name="End session").click()  # the provider's logout page
    page.get_by_text("Vous êtes déconnecté de la console et du fournisseur d'identité.").wait_for()
    page.goto(sso_web_app + "/console/demandes")
    page.get_by_role("button", name="Se connecter avec ProConnect").wait_for()
    page.close()
