"""The widget in a real browser (Debian's Chromium driven by Playwright), against the real servers."""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from devtools.mailbox import latest_code, wait_for_messages
from settings import PROJECT_ROOT

pytestmark = pytest.mark.servers
AXE = PROJECT_ROOT / "webapp" / "static" / "vendor" / "axe.min.js"


CHAT_SOCKET = re.compile(r".*/socket\.io/.*")


@contextlib.contextmanager
def widget_page(browser, web_app, chat_socket=None):
    """The demo page in a fresh browser context; `chat_socket(route)`, if given, handles the
    widget's WebSocket to the Rasa server (Playwright's WebSocketRoute)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    try:
        page = context.new_page()
        page.dialogs = []
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        if chat_socket is not None:
            page.route_web_socket(CHAT_SOCKET, chat_socket)
        page.goto(web_app.url + "/")
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser, web_app):
    with widget_page(browser, web_app) as page:
        yield page


def open_widget(page):
    page.get_by_role("button", name="Une question sur vos données de santé ?").click()
    page.get_by_label("Votre question").wait_for()


def ask(page, text):
    before = page.locator(".mds-bot").count()
    page.get_by_label("Votre question").fill(text)
    page.get_by_role("button", name="Envoyer", exact=True).click()
    page.locator(".mds-bot").nth(before).wait_for(timeout=30000)
    wait_until_the_reply_is_complete(page)
    return page.locator(".mds-bot").last


def ask_from_the_keyboard(page, text):
    """Like `ask`, but sent with Enter from the input, where the focus then stays."""
    before = page.locator(".mds-bot").count()
    page.get_by_label("Votre question").fill(text)
    page.get_by_label("Votre question").press("Enter")
    page.locator(".mds-bot").nth(before).wait_for(timeout=30000)
    wait_until_the_reply_is_complete(page)
    return page.locator(".mds-bot").last


def stored_conversation(page):
    """The conversation the widget keeps in localStorage (its other keys, e.g. ":notice", aside)."""
    return page.evaluate(
        "JSON.parse(Object.entries(localStorage).find(([k]) => k.startsWith('mds-widget:') && !k.endsWith(':notice'))[1])"
    )


def inside(inner, outer, tolerance=1.0):
    """Whether the box `inner` (a bounding box) lies within the box `outer`."""
    return (
        inner["x"] >= outer["x"] - tolerance
        and inner["y"] >= outer["y"] - tolerance
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + tolerance
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + tolerance
    )


def no_horizontal_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def wait_until_the_reply_is_complete(page, quiet_ms=700):
    """A reply can come as several messages (and a custom payload after the text), further
    apart on a busy machine: wait until the conversation has not changed for `quiet_ms`."""
    shown = None
    for _ in range(60):
        current = page.locator(".mds-log").inner_html()
        if current == shown:
            return
        shown = current
        page.wait_for_timeout(quiet_ms)
    raise AssertionError("the conversation kept changing for 40 s")


def test_question_answer_with_source_then_a_suggestion(page):
    open_widget(page)
    answer = ask(page, "Combien de temps mes données sont-elles conservées dans le SNDS ?")
    assert "19 ans" in answer.inner_text()
    source = answer.locator(".mds-sources a").first
    assert source.get_attribute("href").startswith("https://")
    assert source.get_attribute("rel") == "noopener noreferrer"
    assert "vérifié le" in answer.locator(".mds-sources").inner_text()
    before = page.locator(".mds-bot").count()
    answer.locator(".mds-suggestion").first.click()
    page.locator(".mds-bot").nth(before).wait_for(timeout=30000)
    wait_until_the_reply_is_complete(page)
    assert page.locator(".mds-bot").last.locator(".mds-sources a").count() >= 1


def test_conversation_survives_a_reload_and_continues(page):
    open_widget(page)
    ask(page, "Qu'est-ce que le Health Data Hub ?")
    page.reload()
    page.locator(".mds-user", has_text="Qu'est-ce que le Health Data Hub ?").wait_for()
    assert page.locator(".mds-bot").count() >= 1
    answer = ask(page, "Et qui héberge les données ?")
    assert "Microsoft" in answer.inner_text()


def test_html_and_script_are_shown_as_text(page):
    open_widget(page)
    for text in ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>"]:
        ask(page, text)
        assert page.locator(".mds-user").last.inner_text().endswith(text)
    assert page.locator(".mds-log img, .mds-log script").count() == 0
    assert page.dialogs == []


def test_keyboard_only(page):
    page.keyboard.press("Tab")  # skip link
    for _ in range(10):
        if page.evaluate("document.activeElement && document.activeElement.className") == "mds-launcher":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "mds-input"
    page.keyboard.type("Bonjour")
    page.keyboard.press("Enter")
    page.locator(".mds-bot .mds-suggestion").first.wait_for(timeout=30000)
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.className") == "mds-suggestion":
            break
    assert page.evaluate("document.activeElement.className") == "mds-suggestion"
    page.keyboard.press("Escape")
    assert page.locator("#mds-panel").is_hidden()


def test_erasure_request_through_the_widget(page, mail_dir):
    address = f"camille.{uuid.uuid4().hex[:8]}@example.fr"
    open_widget(page)
    ask(page, "je veux faire effacer mes données")
    assert "Étape 1 sur 6" in page.locator(".mds-bot").last.inner_text()
    page.locator(".mds-bot").last.get_by_role("button", name="Un projet de recherche du Health Data Hub").click()
    page.get_by_text("Étape 2 sur 6").wait_for(timeout=30000)
    wait_until_the_reply_is_complete(page)
    ask(page, "Camille")
    ask(page, "Martin")
    summary = ask(page, address)
    assert "Étape 5 sur 6" in summary.inner_text()
    before = page.locator(".mds-bot").count()
    summary.get_by_role("button", name="Oui, m'envoyer le code").click()
    page.locator(".mds-bot").nth(before).wait_for(timeout=30000)
    wait_until_the_reply_is_complete(page)
    assert "Étape 6 sur 6" in page.locator(".mds-bot").last.inner_text()
    assert "code à 6 chiffres" in " ".join(page.locator(".mds-bot").all_inner_texts()[before:])
    ask(page, latest_code(mail_dir, address))  # read from the Maildir, as the citizen reads the e-mail
    confirmation = " ".join(page.locator(".mds-bot").all_inner_texts()[-3:])
    assert re.search(r"HDH-\d{4}-\d{6}", confirmation) and "Demande enregistrée" in confirmation
    assert len(wait_for_messages(mail_dir, address, 1, "Accusé de réception")) == 1


def test_accessibility_audit_and_screenshots(browser, web_app, results_dir):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True, locale="fr-FR")
    page = context.new_page()
    page.goto(web_app.url + "/")
    open_widget(page)
    ask(page, "Quels sont mes droits ?")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    serious = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    (results_dir / "axe-widget.json").write_text(
        json.dumps(
            {
                "violations": [
                    {
                        "id": v["id"],
                        "impact": v["impact"],
                        "nodes": [n["target"] for n in v["nodes"]][:5],
                        "summary": [n.get("failureSummary", "")[:200] for n in v["nodes"]][:3],
                    }
                    for v in result["violations"]
                ],
                "passes": len(result["passes"]),
            },
            indent=2,
        )
    )
    page.screenshot(path=str(results_dir / "widget-desktop.png"))
    page.set_viewport_size({"width": 360, "height": 740})
    page.wait_for_timeout(300)
    page.screenshot(path=str(results_dir / "widget-phone.png"))
    context.close()
    assert serious == [], [(v["id"], v["help"]) for v in serious]


@pytest.fixture
def flaky_service_page(browser, web_app):
    """The widget page, with the chat service's WebSocket under the test's control."""
    service = {"up": True, "sockets": []}

    def route(socket):
        service["sockets"].append(socket)
        if service["up"]:
            socket.connect_to_server()
        else:
            socket.close()  # refused: as if the chat service were down

    with widget_page(browser, web_app, route) as page:
        page.service = service
        yield page


def test_outage_keeps_the_message_and_sends_it_on_retry(flaky_service_page):
    page = flaky_service_page
    page.service["up"] = False
    open_widget(page)
    page.get_by_label("Votre question").fill("Qu'est-ce que le Health Data Hub ?")
    page.get_by_role("button", name="Envoyer", exact=True).click()
    status = page.locator(".mds-status")
    status.get_by_text("Le service est injoignable pour le moment. Votre message est conservé.").wait_for(timeout=45000)
    assert len(page.service["sockets"]) >= 2  # the widget tried again by itself before giving up
    assert page.locator(".mds-user").last.inner_text().endswith("Qu'est-ce que le Health Data Hub ?")
    assert page.locator(".mds-bot").count() == 0

    page.service["up"] = True
    status.get_by_role("button", name="Réessayer").click()
    page.locator(".mds-bot").first.wait_for(timeout=30000)
    assert "Health Data Hub" in page.locator(".mds-bot").first.inner_text()
    assert status.is_hidden()


def test_dropped_connection_reconnects_to_the_same_conversation(flaky_service_page):
    page = flaky_service_page
    open_widget(page)
    ask(page, "Qu'est-ce que le Health Data Hub ?")
    session = stored_conversation(page)["sessionId"]
    connections = len(page.service["sockets"])

    page.service["sockets"][-1].close()  # the server side goes away mid-conversation
    page.locator(".mds-status").get_by_text("Connexion interrompue, reconnexion en cours…").wait_for(timeout=5000)
    page.locator(".mds-status").wait_for(state="hidden", timeout=30000)
    assert len(page.service["sockets"]) == connections + 1

    answer = ask(page, "Et qui héberge les données ?")
    assert "Microsoft" in answer.inner_text()
    assert stored_conversation(page)["sessionId"] == session


def test_progress_arriving_late_still_joins_its_question(browser, web_app):
    """On a busy server the custom part of a reply (form progress) can come after the text."""
    delayed = []

    def route(socket):
        server = socket.connect_to_server()

        def from_server(message):
            if isinstance(message, str) and '"form"' in message and '"text"' not in message:
                delayed.append(message)
                time.sleep(0.8)  # well past the widget's 250 ms folding delay
            socket.send(message)

        server.on_message(from_server)

    with widget_page(browser, web_app, route) as page:
        open_widget(page)
        question = ask(page, "je veux faire effacer mes données")
        assert delayed, "the form progress came in the same frame as the text: nothing was delayed"
        assert "Étape 1 sur 6" in question.inner_text()
        assert question.get_by_role("button", name="Un projet de recherche du Health Data Hub").count() == 1
        page.reload()  # what the widget stored is the same single, complete reply
        assert "Étape 1 sur 6" in page.locator(".mds-bot").last.inner_text()


def test_a_letter_links_key_is_shown_but_never_stored(browser, web_app):
    link = "https://exemple.fr/lettre/HDH-2026-000001?cle=SECRETkey123"

    def route(socket):
        server = socket.connect_to_server()

        def from_server(message):
            if isinstance(message, str) and '"bot_uttered"' in message and '"text":"' in message:
                message = message.replace('"text":"', f'"text":"Votre lettre : {link} — ', 1)
            socket.send(message)

        server.on_message(from_server)

    with widget_page(browser, web_app, route) as page:
        open_widget(page)
        answer = ask(page, "Qu'est-ce que le SNDS ?")
        assert "SECRETkey123" in answer.inner_text()
        stored = page.evaluate("JSON.stringify(Object.assign({}, localStorage))")
        assert "HDH-2026-000001" in stored and "SECRETkey123" not in stored


def test_the_widget_falls_back_to_polling_when_websockets_are_blocked(browser, web_app):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    try:
        page = context.new_page()
        # A network that blocks WebSockets: every connection fails before it opens.
        page.add_init_script(
            "window.WebSocket = function () { var ws = this; ws.readyState = 3; setTimeout(function () {"
            " if (ws.onerror) ws.onerror(new Event('error'));"
            " if (ws.onclose) ws.onclose({code: 1006, reason: ''}); }, 20); };"
        )
        polled = []
        page.on("request", lambda r: polled.append(r.url) if "transport=polling" in r.url else None)
        page.goto(web_app.url + "/")
        open_widget(page)
        answer = ask(page, "Qu'est-ce que le SNDS ?")
        assert "Système national des données de santé" in answer.inner_text()
        assert polled, "the answer did not come over long-polling"
    finally:
        context.close()


@pytest.mark.parametrize("width, height", [(360, 740), (320, 568), (740, 360)])
def test_on_a_phone_the_page_fits_and_the_widget_opens_by_tap(browser, web_app, results_dir, width, height):
    """As a phone renders the page (mobile emulation: the viewport meta tag applies, touch input)."""
    context = browser.new_context(
        viewport={"width": width, "height": height},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        locale="fr-FR",
    )
    try:
        page = context.new_page()
        failed = []
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.goto(web_app.url + "/")
        assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
        launcher = page.get_by_role("button", name="Une question sur vos données de santé ?")
        box = launcher.bounding_box()
        assert box and box["x"] >= 0 and box["y"] >= 0
        assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height, box
        launcher.tap()
        page.get_by_label("Votre question").wait_for()
        answer = ask(page, "Qu'est-ce que le SNDS ?")
        assert "Système national des données de santé" in answer.inner_text()
        assert page.get_by_label("Votre question").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
        page.screenshot(path=str(results_dir / f"widget-phone-{width}x{height}.png"))
        assert failed == [], failed
    finally:
        context.close()


# --- a roomier conversation on a desktop, phones with their keyboard, zoom, a clean console ---


def test_on_a_desktop_two_answers_are_shown_in_full_without_scrolling(page, results_dir):
    """1280×900: a one-line header, the notice reduced once read, a tall panel: the two latest
    answers are both entirely in view; a reply neither moves the focus out of the input."""
    open_widget(page)
    title = page.locator(".mds-title").bounding_box()
    assert title["height"] <= 30, title  # one line
    ask_from_the_keyboard(page, "Qu'est-ce que le SNDS ?")
    ask_from_the_keyboard(page, "Qu'est-ce que le Health Data Hub ?")
    answers = page.locator(".mds-bot")
    first, second = answers.nth(answers.count() - 2), answers.nth(answers.count() - 1)
    assert "Système national des données de santé" in first.inner_text()
    assert "Health Data Hub" in second.inner_text()
    assert first.locator(".mds-sources a").count() >= 1 and second.locator(".mds-sources a").count() >= 1
    conversation = page.locator(".mds-log").bounding_box()
    page.screenshot(path=str(results_dir / "widget-desktop-two-answers.png"))
    for answer in (first, second):
        box = answer.bounding_box()
        assert inside(box, conversation), (box, conversation)
    assert page.evaluate("document.activeElement.id") == "mds-input"


def test_the_privacy_notice_is_reduced_once_read_and_stays_as_chosen_after_a_reload(page):
    open_widget(page)
    details = page.get_by_text("Assistant automatique. Vos messages sont conservés")
    warning = page.get_by_text("N'écrivez ni détail de santé ni numéro de sécurité sociale.")
    toggle = page.locator(".mds-notice-toggle")
    assert details.is_visible() and warning.is_visible()  # in full before the first message

    ask(page, "Qu'est-ce que le SNDS ?")  # read: it now takes one line, its warning still shown
    assert details.is_hidden() and warning.is_visible()
    assert toggle.inner_text() == "En savoir plus" and toggle.get_attribute("aria-expanded") == "false"
    assert page.locator(".mds-notice").bounding_box()["height"] <= 36
    page.reload()
    page.locator(".mds-bot").first.wait_for()
    assert details.is_hidden() and warning.is_visible()
    stored = page.evaluate("Object.entries(localStorage).filter(([k]) => k.endsWith(':notice'))")
    assert [value for key, value in stored if key.startswith("mds-widget:")] == ["collapsed"], stored

    page.get_by_role("button", name="En savoir plus", exact=True).click()
    assert details.is_visible() and toggle.get_attribute("aria-expanded") == "true"
    page.reload()
    page.locator(".mds-bot").first.wait_for()
    assert details.is_visible()
    ask(page, "Qu'est-ce que le Health Data Hub ?")  # the citizen's choice stands
    assert details.is_visible()

    page.get_by_role("button", name="Réduire", exact=True).click()
    assert details.is_hidden() and page.evaluate("document.activeElement.className") == "mds-notice-toggle"
    page.reload()
    page.locator(".mds-bot").first.wait_for()
    assert details.is_hidden() and warning.is_visible()


LATEST_MESSAGE_IN_VIEW = """() => {
  const log = document.querySelector('.mds-log');
  const last = log.lastElementChild.getBoundingClientRect(), view = log.getBoundingClientRect();
  return log.scrollHeight > log.clientHeight && log.scrollTop + log.clientHeight >= log.scrollHeight - 2
    && last.top < view.bottom && last.bottom <= view.bottom + 1;
}"""


def test_after_a_reload_the_conversation_shows_its_latest_message(page):
    open_widget(page)
    for question in ("Qu'est-ce que le SNDS ?", "Qu'est-ce que le Health Data Hub ?", "Qui héberge les données ?"):
        ask(page, question)
    assert page.evaluate(LATEST_MESSAGE_IN_VIEW)
    page.reload()
    page.locator(".mds-bot").nth(2).wait_for()
    page.wait_for_load_state("load")  # the widget's stylesheet, which makes the log scroll
    try:
        page.wait_for_function(LATEST_MESSAGE_IN_VIEW, timeout=5000)
    except PlaywrightTimeout:
        state = page.evaluate(
            "(l => [l.scrollTop, l.clientHeight, l.scrollHeight])(document.querySelector('.mds-log'))"
        )
        pytest.fail(f"after the reload the log is not on its latest message (scrollTop, height, scrollHeight: {state})")
    assert "Microsoft" in page.locator(".mds-bot").last.inner_text()


# Headless Chromium has no on-screen keyboard. What a phone's keyboard does to a page is shrink
# the visual viewport (window.visualViewport: smaller height, an offsetTop when the browser pans
# to the focused input) and fire "resize" on it, while the layout viewport (100vh, position:
# fixed) keeps its size. CDP's Emulation.setVisibleSize does not do that under Playwright's device
# emulation (visualViewport keeps the full height: tried), and a smaller window shrinks the layout
# viewport too, so an input pinned to the bottom of the window would pass without any keyboard
# handling. The test therefore overrides the two getters on the real VisualViewport object and
# dispatches "resize" on it, as the browser does when the keyboard opens; null closes it again.
KEYBOARD = """(keyboard) => {
  const vv = window.visualViewport;
  if (keyboard === null) { delete vv.height; delete vv.offsetTop; }
  else {
    Object.defineProperty(vv, 'height', { configurable: true, get: () => keyboard.height });
    Object.defineProperty(vv, 'offsetTop', { configurable: true, get: () => keyboard.top });
  }
  vv.dispatchEvent(new Event('resize'));
  return [vv.offsetTop, vv.height];
}"""


@pytest.mark.parametrize("width, height, keyboard", [(360, 740, 300), (320, 568, 260), (740, 360, 200)])
def test_on_a_phone_the_input_stays_above_the_on_screen_keyboard(
    browser, web_app, results_dir, width, height, keyboard
):
    context = browser.new_context(
        viewport={"width": width, "height": height},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        locale="fr-FR",
    )
    try:
        page = context.new_page()
        page.goto(web_app.url + "/")
        page.get_by_role("button", name="Une question sur vos données de santé ?").tap()
        page.get_by_label("Votre question").wait_for()
        screen = {"x": 0, "y": 0, "width": width, "height": height}
        assert page.locator(".mds-panel").bounding_box() == screen  # full-screen
        answer = ask(page, "Qu'est-ce que le SNDS ?")
        assert "Système national des données de santé" in answer.inner_text()
        page.get_by_label("Votre question").tap()

        for top in (0, 80):  # the keyboard opens; then the browser pans the page by 80 px
            offset, visible = page.evaluate(KEYBOARD, {"height": height - keyboard, "top": top})
            page.wait_for_timeout(100)
            viewport = {"x": 0, "y": offset, "width": width, "height": visible}
            panel = page.locator(".mds-panel").bounding_box()
            assert panel == viewport, (panel, viewport)
            for part in ("#mds-input", ".mds-send", ".mds-close"):
                box = page.locator(part).bounding_box()
                assert box and inside(box, viewport), (part, box, viewport)
            assert page.evaluate("document.activeElement.id") == "mds-input"
            assert no_horizontal_scroll(page)
        page.screenshot(path=str(results_dir / f"widget-phone-keyboard-{width}x{height}.png"))

        page.evaluate(KEYBOARD, None)  # the keyboard closes
        page.wait_for_timeout(100)
        assert page.locator(".mds-panel").bounding_box() == screen
    finally:
        context.close()


def test_at_200_percent_zoom_the_page_reflows_and_the_widget_works(browser, web_app, results_dir):
    """WCAG 1.4.10 / RGAA 10.11: a 1280×900 window at 200 % zoom lays the page out in 640×450 CSS
    pixels (two device pixels each): no horizontal scrolling, the widget reachable and usable."""
    context = browser.new_context(viewport={"width": 640, "height": 450}, device_scale_factor=2, locale="fr-FR")
    try:
        page = context.new_page()
        page.goto(web_app.url + "/")
        screen = {"x": 0, "y": 0, "width": 640, "height": 450}
        assert no_horizontal_scroll(page)
        launcher = page.get_by_role("button", name="Une question sur vos données de santé ?")
        assert inside(launcher.bounding_box(), screen)
        open_widget(page)
        assert page.locator(".mds-panel").bounding_box() == screen  # the widget takes the screen
        answer = ask(page, "Qu'est-ce que le SNDS ?")
        assert "Système national des données de santé" in answer.inner_text()
        conversation = page.locator(".mds-log").bounding_box()
        assert conversation["height"] >= 0.4 * 450, conversation  # room to read, not a slit
        first_line = answer.locator(".mds-text").bounding_box()
        assert (
            conversation["y"] - 1 <= first_line["y"] <= conversation["y"] + conversation["height"] - 24
        )  # read from its start
        for part in ("#mds-input", ".mds-send", ".mds-close"):
            assert inside(page.locator(part).bounding_box(), screen), part
        assert no_horizontal_scroll(page)
        page.screenshot(path=str(results_dir / "widget-zoom-200.png"))
    finally:
        context.close()


def test_no_failed_request_and_no_console_error_in_a_conversation(browser, web_app):
    """The demo page and the widget through an answer with source links (whose DSFR icon once
    answered 404), then a reload that restores them."""
    import requests

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    problems = []
    try:
        page = context.new_page()
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        # Chromium's own requests (the favicon) are not reported as responses: their failure shows
        # as a console error, hence both listeners.
        page.on("console", lambda m: problems.append(f"console: {m.text} {m.location}") if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.goto(web_app.url + "/")
        open_widget(page)
        answer = ask(page, "Combien de temps mes données sont-elles conservées dans le SNDS ?")
        source = answer.locator(".mds-sources a").first
        assert source.count() == 1
        source.hover()
        page.reload()
        page.locator(".mds-sources a").first.wait_for()
        page.wait_for_timeout(1000)
    finally:
        context.close()
    assert problems == [], problems
    assert requests.get(web_app.url + "/favicon.ico", timeout=10).status_code == 200


def test_a_fact_answer_can_be_rated_with_a_reason_and_the_rating_changed(page, app_database_url):
    """Issue #18.4: « Cette réponse vous a-t-elle aidé ? » under the answer, Non with a reason, then
    a change of mind; the choice is shown as pressed, kept after a reload, and stored once."""
    import sqlalchemy as sa

    from gdpr.requests import RequestRepository
    from storage.schema import answer_feedback

    open_widget(page)
    ask(page, "Qu'est-ce que le Health Data Hub ?")
    answer = page.locator(".mds-bot").nth(page.locator(".mds-bot").count() - 1)  # fixed, not « last »
    rating = answer.get_by_role("group", name="Cette réponse vous a-t-elle aidé ?")
    rating.get_by_role("button", name="Non").click()
    page.get_by_text("Qu'est-ce qui n'allait pas ?").wait_for(timeout=30000)
    wait_until_the_reply_is_complete(page)
    assert rating.get_by_role("button", name="Non").get_attribute("aria-pressed") == "true"
    page.locator(".mds-bot").last.get_by_role("button", name="Pas clair").click()
    page.get_by_text("l'équipe relira cette réponse").wait_for(timeout=30000)
    wait_until_the_reply_is_complete(page)

    rating.get_by_role("button", name="Oui").click()  # still there, under its answer
    page.get_by_text("Merci, votre avis est enregistré.").last.wait_for(timeout=30000)
    wait_until_the_reply_is_complete(page)
    page.reload()
    page.wait_for_load_state("load")
    if not page.get_by_label("Votre question").is_visible():  # the widget reopens as it was left
        open_widget(page)
    reloaded = page.get_by_role("group", name="Cette réponse vous a-t-elle aidé ?").first
    reloaded.wait_for()
    assert reloaded.get_by_role("button", name="Oui").get_attribute("aria-pressed") == "true"
    assert reloaded.get_by_role("button", name="Non").get_attribute("aria-pressed") == "false"

    session = stored_conversation(page)["sessionId"]
    from devtools.servers import API_TOKEN
    from rasa_addons.channels import sender_for_session

    with RequestRepository(app_database_url).engine.connect() as connection:
        rows = connection.execute(
            sa.select(answer_feedback.c.helpful, answer_feedback.c.reason).where(
                answer_feedback.c.sender_id == sender_for_session(session, key=API_TOKEN)
            )
        ).all()
    assert [tuple(r) for r in rows] == [(True, None)], "one rating per answer, the latest choice"
