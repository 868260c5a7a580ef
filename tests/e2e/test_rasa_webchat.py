"""The ecosystem's standard client, rasa-webchat (npm, socket.io-client with long-polling first),
talks to this Rasa server from a browser page: answers and buttons are shown."""

from __future__ import annotations

import pytest

from settings import PROJECT_ROOT

pytestmark = pytest.mark.servers
WEBCHAT = PROJECT_ROOT / "widget" / "node_modules" / "rasa-webchat" / "lib" / "index.js"

PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>rasa-webchat</title></head>
<body><div id="webchat"></div><script src="/rasa-webchat.js"></script>
<script>WebChat.default({selector: "#webchat", initPayload: "/greet", socketUrl: "%s", socketPath: "/socket.io/",
  title: "Mes données de santé", customData: {language: "fr"}, params: {storage: "session"}}, null);</script>
</body></html>"""


def test_rasa_webchat_gets_answers_and_buttons(browser, web_app, assistant):
    assert WEBCHAT.exists(), "rasa-webchat is installed by `make install` (widget/package.json)"
    # The test page replaces a page of the web app (same origin, the one CORS_ORIGINS allows; loopback
    # address space); that page's own CSP is for the project's widget, not for this third-party client.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR", bypass_csp=True)
    try:
        page = context.new_page()
        page.route(
            f"{web_app.url}/rasa-webchat.js",
            lambda route: route.fulfill(status=200, content_type="application/javascript", body=WEBCHAT.read_bytes()),
        )
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{web_app.url}/sante")
        page.set_content(PAGE % assistant.url)
        page.locator(".rw-launcher").click()
        messages = page.locator(".rw-messages-container")
        messages.get_by_text("assistant automatique").first.wait_for(timeout=30000)  # the greeting (/greet)
        assert page.locator(".rw-reply").count() >= 1, "suggestion buttons are shown"
        page.locator(".rw-new-message").fill("Qu'est-ce que le SNDS ?")
        page.locator(".rw-new-message").press("Enter")
        messages.get_by_text("Système national des données de santé").first.wait_for(timeout=30000)
        assert not [e for e in errors if "Access-Control-Allow-Origin" in e], errors
    finally:
        context.close()
