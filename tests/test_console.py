"""The operator console over HTTP: login, CSRF, escaping, filters, audit trail."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from console.accounts import create_operator
from devtools.servers import free_port
from gdpr.requests import RequestRepository, status_history
from rasa_addons.tracker_store import MaskingSQLTrackerStore
from tests.stored_requests import insert_request
from webapp import create_app

PASSWORD = "correct horse battery staple"
RECEIVED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.timezone.utc)  # hence the reference HDH-2026-000001
INJECTIONS = [
    "' OR 1=1 --",
    "'; DROP TABLE events; --",
    "%",
    "_",
    "\\",
    "\" OR \"\"=\"",
    "1) UNION SELECT * FROM operators --",
]
DOMAIN = Domain.from_yaml("""
version: "3.1"
slots:
  last_fact_id: {type: text, mappings: [{type: custom}]}
""")


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("MDS_VAR_DIR", str(tmp_path))
    app_url, tracker_url = f"sqlite:///{tmp_path / 'app.db'}", f"sqlite:///{tmp_path / 'conversations.db'}"
    # Status changes e-mail the citizen: nothing listens on this port, the e-mails stay queued.
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    repo = RequestRepository(app_url)
    create_operator(repo, "agent.dpo", PASSWORD, role="dpo")
    create_operator(repo, "agent.revue", PASSWORD, role="réviseur")
    # Written directly (tests/stored_requests.py): submitting a draft now needs a verified e-mail address.
    insert_request(repo, last_name="<b>Dupont</b>", email="j@example.fr", received_at=RECEIVED)
    store = MaskingSQLTrackerStore(domain=DOMAIN, url=tracker_url)
    conversations = {
        "xss": [
            UserUttered("<script>alert(1)</script>", {"name": "faq", "confidence": 0.4}),
            BotUttered("Je ne suis pas sûr", {"custom": {"fallback": "low_confidence"}}),
        ],
        "fact": [
            UserUttered("qu'est-ce que le SNDS", {"name": "faq", "confidence": 0.97}),
            SlotSet("last_fact_id", "snds_presentation"),
            BotUttered(
                "Le SNDS…",
                {
                    "custom": {
                        "fact_id": "snds_presentation",
                        "sources": [{"title": "Ameli", "url": "https://ameli.fr"}],
                    }
                },
            ),
        ],
    }
    for sender, events in conversations.items():
        tracker = DialogueStateTracker.from_events(
            sender, [ActionExecuted("action_listen")] + events, slots=DOMAIN.slots
        )
        asyncio.run(store.save(tracker))
    application = create_app(app_url, tracker_url)
    application.config["TESTING"] = True
    return application


def csrf(client, path):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def login(client, password=PASSWORD, name="agent.dpo"):
    token = csrf(client, "/console/connexion")
    return client.post("/console/connexion", data={"identifiant": name, "mot_de_passe": password, "csrf": token})


@pytest.mark.parametrize(
    "path",
    [
        "/console/",
        "/console/demandes",
        "/console/demandes.csv",
        "/console/conversations",
        "/console/conversations/xss",
        "/console/demandes/HDH-2026-000001",
    ],
)
def test_nothing_without_login(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 302 and "/console/connexion" in response.headers["Location"]


def test_login_logout_and_cookie_flags(app):
    client = app.test_client()
    response = login(client)
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/console/demandes").status_code == 200
    client.post("/console/deconnexion", data={"csrf": csrf(client, "/console/demandes")})
    assert client.get("/console/demandes").status_code == 302


def _copied_session(app, client):
    """A second browser holding a copy of the first one's session cookie."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    thief.set_cookie("session", cookie.value)
    return thief


def test_logout_ends_a_copied_session_cookie(app):
    """Issue #23.7: a copied cookie stops working once its operator logs out."""
    client = app.test_client()
    login(client)
    thief = _copied_session(app, client)
    assert thief.get("/console/demandes").status_code == 200, "the copy works while the session is open"
    client.post("/console/deconnexion", data={"csrf": csrf(client, "/console/demandes")})
    assert thief.get("/console/demandes").status_code == 302
    login(client)
    assert thief.get("/console/demandes").status_code == 302, "a new login does not revive the old cookie"
    assert client.get("/console/demandes").status_code == 200


def test_a_password_change_ends_open_sessions(app):
    client = app.test_client()
    login(client)
    create_operator(app.config["REPOSITORY"], "agent.dpo", PASSWORD + " nouveau")
    assert client.get("/console/demandes").status_code == 302
    create_operator(app.config["REPOSITORY"], "agent.dpo", PASSWORD)


def test_a_session_expires_eight_hours_after_login_however_often_it_is_used(app, monkeypatch):
    import time as time_module

    client = app.test_client()
    login(client)
    assert client.get("/console/demandes").status_code == 200
    real = time_module.time
    monkeypatch.setattr(time_module, "time", lambda: real() + 7 * 3600)
    assert client.get("/console/demandes").status_code == 200, "used within the 8 hours (cookie renewed)"
    monkeypatch.setattr(time_module, "time", lambda: real() + 14 * 3600)
    assert client.get("/console/demandes").status_code == 302, "the renewed cookie is 7 hours old, the login 14"


@pytest.mark.parametrize(
    "target",
    [
        "/console/demandes\r\nSet-Cookie: x=1",
        "/console/demandes%0d%0aX: y",
        "//evil.example/console/",
        "/console/\\evil",
        "https://evil.example/console/",
    ],
)
def test_login_return_path_never_breaks_headers_or_leaves_the_console(app, target):
    client = app.test_client()
    token = csrf(client, "/console/connexion")
    response = client.post(
        "/console/connexion",
        query_string={"suivant": target},
        data={"identifiant": "agent.dpo", "mot_de_passe": PASSWORD, "csrf": token},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "\r" not in location and "\n" not in location and "evil" not in location


def test_login_returns_to_the_page_asked_for(app):
    client = app.test_client()
    token = csrf(client, "/console/connexion")
    response = client.post(
        "/console/connexion?suivant=/console/conversations",
        data={"identifiant": "agent.dpo", "mot_de_passe": PASSWORD, "csrf": token},
    )
    assert response.headers["Location"].endswith("/console/conversations")


@pytest.mark.parametrize(
    "path",
    [
        "/console/demandes",
        "/console/demandes.csv",
        "/console/conversations",
        "/console/conversations/xss",
        "/console/demandes/HDH-2026-000001",
        "/console/connexion",
    ],
)
def test_console_pages_and_exports_are_never_cached(app, path):
    client = app.test_client()
    login(client)
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_wrong_passwords_are_slowed_down(app):
    client = app.test_client()
    statuses = [login(client, "wrong").status_code for _ in range(5)]
    assert statuses[:3] == [401, 401, 401] and 429 in statuses[3:]
    assert login(client).status_code == 429, "even the right password waits once throttled"


def test_behind_the_proxy_one_address_throttled_does_not_lock_the_operator_out(tmp_path, monkeypatch):
    monkeypatch.setenv("MDS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("TRUSTED_PROXY_COUNT", "1")
    app_url = f"sqlite:///{tmp_path / 'app.db'}"
    create_operator(RequestRepository(app_url), "agent.dpo", PASSWORD, role="dpo")
    application = create_app(app_url, f"sqlite:///{tmp_path / 'conversations.db'}")

    def attempt(address, password):
        client = application.test_client()
        client.environ_base["HTTP_X_FORWARDED_FOR"] = address  # what nginx appends
        token = csrf(client, "/console/connexion")
        return client.post(
            "/console/connexion", data={"identifiant": "agent.dpo", "mot_de_passe": password, "csrf": token}
        )

    assert 429 in [attempt("203.0.113.66", "wrong").status_code for _ in range(5)]
    assert attempt("198.51.100.20", PASSWORD).status_code == 302  # the operator, from elsewhere


def test_post_without_csrf_is_refused(app):
    client = app.test_client()
    login(client)
    response = client.post("/console/demandes/HDH-2026-000001", data={"statut": "en cours"})
    assert response.status_code == 400
    assert "reçue" in client.get("/console/demandes/HDH-2026-000001").get_data(as_text=True)
    assert (
        app.test_client()
        .post("/console/connexion", data={"identifiant": "agent.dpo", "mot_de_passe": PASSWORD})
        .status_code
        == 400
    )


def test_status_change_is_recorded_in_the_audit_trail(app):
    client = app.test_client()
    login(client)
    token = csrf(client, "/console/demandes/HDH-2026-000001")
    refused = client.post("/console/demandes/HDH-2026-000001", data={"statut": "refusée", "motif": "", "csrf": token})
    assert refused.status_code == 400 and "motivé" in refused.get_data(as_text=True)
    client.post("/console/demandes/HDH-2026-000001", data={"statut": "en cours", "csrf": token})
    client.post(
        "/console/demandes/HDH-2026-000001", data={"statut": "refusée", "motif": "Exception art. 17.3", "csrf": token}
    )
    page = client.get("/console/demandes/HDH-2026-000001").get_data(as_text=True)
    assert page.count("agent.dpo") >= 2 and "Exception art. 17.3" in page
    assert "&lt;b&gt;Dupont&lt;/b&gt;" in page and "<b>Dupont</b>" not in page
    csv_text = client.get("/console/demandes.csv").get_data(as_text=True)
    assert "HDH-2026-000001" in csv_text and "refusée" in csv_text


def test_a_decision_made_meanwhile_by_a_colleague_is_not_overwritten(app):
    create_operator(app.config["REPOSITORY"], "agent.b", PASSWORD, role="dpo")
    first, second = app.test_client(), app.test_client()
    login(first)
    token = csrf(second, "/console/connexion")
    second.post("/console/connexion", data={"identifiant": "agent.b", "mot_de_passe": PASSWORD, "csrf": token})
    path = "/console/demandes/HDH-2026-000001"
    pages = [client.get(path).get_data(as_text=True) for client in (first, second)]  # both see « reçue »
    seen = [re.search(r'name="statut_vu" value="([^"]+)"', page).group(1) for page in pages]
    assert seen == ["reçue", "reçue"]
    first.post(path, data={"statut": "en cours", "statut_vu": seen[0], "csrf": csrf(first, path)})
    late = second.post(
        path,
        data={
            "statut": "refusée",
            "motif": "Exception art. 17.3",
            "statut_vu": seen[1],
            "csrf": re.search(r'name="csrf" value="([^"]+)"', pages[1]).group(1),
        },
    )
    page = late.get_data(as_text=True)
    assert late.status_code == 400
    assert "agent.dpo a passé cette demande au statut « en cours »" in page and "n&#39;a pas été enregistré" in page
    assert ">Exception art. 17.3</textarea>" in page and '<option value="refusée" selected>' in page  # kept for a retry
    assert 'name="statut_vu" value="en cours"' in page
    again = second.post(
        path,
        data={"statut": "refusée", "motif": "Exception art. 17.3", "statut_vu": "en cours", "csrf": csrf(second, path)},
    )
    assert again.status_code == 302
    history = status_history(app.config["REPOSITORY"], "HDH-2026-000001")
    assert [(h["old_status"], h["new_status"], h["changed_by"]) for h in history][1:] == [
        ("reçue", "en cours", "agent.dpo"),
        ("en cours", "refusée", "agent.b"),
    ]


def test_citizen_script_shows_as_text_in_the_transcript(app):
    client = app.test_client()
    login(client)
    page = client.get("/console/conversations/xss").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "low_confidence" in page and "0.40" in page


def test_conversation_filters(app):
    client = app.test_client()
    login(client)
    everything = client.get("/console/conversations").get_data(as_text=True)
    assert "/console/conversations/xss" in everything and "/console/conversations/fact" in everything
    fallbacks = client.get("/console/conversations?repli=1").get_data(as_text=True)
    assert "/console/conversations/xss" in fallbacks and "/console/conversations/fact" not in fallbacks
    by_fact = client.get("/console/conversations?fait=snds_presentation").get_data(as_text=True)
    assert "/console/conversations/fact" in by_fact and "/console/conversations/xss" not in by_fact
    low = client.get("/console/conversations?confiance_max=0.5").get_data(as_text=True)
    assert "/console/conversations/xss" in low and "/console/conversations/fact" not in low
    by_text = client.get("/console/conversations?q=SNDS").get_data(as_text=True)
    assert "/console/conversations/fact" in by_text and "/console/conversations/xss" not in by_text


@pytest.mark.parametrize("value", INJECTIONS)
def test_sql_injection_in_filters_is_harmless(app, value):
    client = app.test_client()
    login(client)
    for parameter in ("q", "fait", "du", "au", "apres", "statut"):
        path = "/console/demandes" if parameter == "statut" else "/console/conversations"
        assert client.get(path, query_string={parameter: value}).status_code == 200
    with sa.create_engine(app.config["TRACKER_STORE_URL"]).connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM events")).scalar_one() > 0


def test_review_a_message_and_export_the_correction(app):
    client = app.test_client()
    login(client, name="agent.revue")
    page = client.get("/console/conversations/xss").get_data(as_text=True)
    event_id = re.search(r'name="evenement" value="(\d+)"', page).group(1)
    token = csrf(client, "/console/conversations/xss")
    bad = client.post(
        "/console/conversations/xss", data={"csrf": token, "evenement": event_id, "correction": "faq/nope"}
    )
    assert bad.status_code == 400
    ok = client.post(
        "/console/conversations/xss",
        data={
            "csrf": token,
            "evenement": event_id,
            "etiquette": "mal compris",
            "correction": "out_of_scope",
            "note": "<i>test</i>",
        },
    )
    assert ok.status_code == 302
    page = client.get("/console/conversations/xss").get_data(as_text=True)
    assert "mal compris" in page and "&lt;i&gt;test&lt;/i&gt;" in page
    exported = client.get("/console/corrections.yml").get_data(as_text=True)
    import yaml

    document = yaml.safe_load(exported)
    assert document["nlu"] == [{"intent": "out_of_scope", "examples": "- <script>alert(1)</script>\n"}]
    with sa.create_engine(app.config["TRACKER_STORE_URL"]).connect() as connection:
        tables = sa.inspect(connection).get_table_names()
    from storage.schema import metadata as application_tables

    assert "events" in tables and not set(tables) & set(application_tables.tables), (
        "review data stays out of Rasa's database"
    )


def test_dashboard_shows_charts(app):
    client = app.test_client()
    login(client)
    page = client.get("/console/tableau-de-bord").get_data(as_text=True)
    assert "<svg" in page and "Conversations par jour" in page and "snds_presentation" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, "the unanswered question is listed, escaped"


def test_hesitations_show_the_offered_readings_and_the_citizens_choice(app):
    store = MaskingSQLTrackerStore(domain=DOMAIN, url=app.config["TRACKER_STORE_URL"])
    asked = {"custom": {"fallback": "ambiguous", "candidates": ["right_rectification", "rectification_request_form"]}}
    for sender, answer in (("picked", '/ask_fact{"fact_id":"right_rectification"}'), ("other", "/something_else")):
        events = [
            ActionExecuted("action_listen"),
            UserUttered("corriger une erreur ?", {"name": "nlu_fallback", "confidence": 0.4}),
            BotUttered("Je ne suis pas sûr d'avoir bien compris. Vouliez-vous dire :", asked),
            ActionExecuted("action_listen"),
            UserUttered(answer, {"name": "ask_fact", "confidence": 1.0}),
            ActionExecuted("action_listen"),
            UserUttered("merci", {"name": "thank", "confidence": 0.9}),
        ]
        asyncio.run(store.save(DialogueStateTracker.from_events(sender, events, slots=DOMAIN.slots)))
    client = app.test_client()
    login(client)
    page = client.get("/console/conversations/picked").get_data(as_text=True)
    assert "choix proposés : right_rectification, rectification_request_form" in page
    assert page.count("Vouliez-vous dire… ? » : right_rectification") == 1, "only the message right after the question"
    assert "Vouliez-vous dire… ? » : autre chose" in client.get("/console/conversations/other").get_data(as_text=True)
    listed = client.get("/console/conversations?hesitation=1").get_data(as_text=True)
    assert "/console/conversations/picked" in listed and "/console/conversations/other" in listed
    assert "/console/conversations/fact" not in listed and "/console/conversations/xss" not in listed


def test_random_user_names_from_one_address_are_slowed_too(app):
    from console.login import ADDRESS_FREE_ATTEMPTS

    client = app.test_client()
    statuses = []
    for i in range(ADDRESS_FREE_ATTEMPTS + 2):
        token = csrf(client, "/console/connexion")
        statuses.append(
            client.post(
                "/console/connexion", data={"identifiant": f"inconnu{i}", "mot_de_passe": "x" * 12, "csrf": token}
            ).status_code
        )
    assert statuses[:ADDRESS_FREE_ATTEMPTS] == [401] * ADDRESS_FREE_ATTEMPTS
    assert statuses[ADDRESS_FREE_ATTEMPTS:] == [429, 429]


def test_parallel_attempts_cannot_slip_past_the_count(app, monkeypatch):
    import threading

    from console import login as login_module

    checked, lock = [], threading.Lock()
    real = login_module.authenticate

    def counting(*args):
        with lock:
            checked.append(1)
        return real(*args)

    monkeypatch.setattr(login_module, "authenticate", counting)
    token_client = app.test_client()
    token = csrf(token_client, "/console/connexion")
    barrier = threading.Barrier(16)

    def attempt():
        client = app.test_client()
        with client.session_transaction() as s:
            s["csrf"] = token
        barrier.wait()
        client.post(
            "/console/connexion", data={"identifiant": "agent.dpo", "mot_de_passe": "faux mot de passe", "csrf": token}
        )

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(checked) == login_module.LOGIN_FREE_ATTEMPTS, "each counted attempt is checked once, no more"


def test_password_checks_run_a_few_at_a_time(app, monkeypatch):
    import threading
    import time

    from console import login as login_module

    running, peak, lock = [0], [0], threading.Lock()

    def slow(*args):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(1.5)
        with lock:
            running[0] -= 1
        return False

    monkeypatch.setattr(login_module, "authenticate", slow)
    token = csrf(app.test_client(), "/console/connexion")
    statuses, barrier = [], threading.Barrier(6)

    def attempt(i):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.0.0.{i}"
        with client.session_transaction() as s:
            s["csrf"] = token
        barrier.wait()
        statuses.append(
            client.post(
                "/console/connexion", data={"identifiant": f"agent{i}", "mot_de_passe": "x" * 12, "csrf": token}
            ).status_code
        )

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == login_module.MAX_CONCURRENT_CHECKS
    assert statuses.count(429) == 6 - login_module.MAX_CONCURRENT_CHECKS and statuses.count(401) == 2


def test_the_throttle_forgets_old_attempts():
    import time

    from console.login import LOGIN_WINDOW_SECONDS, LoginThrottle

    throttle = LoginThrottle()
    for i in range(50):
        assert throttle.reserve(f"10.0.{i}.1", "user") == 0
    assert throttle.tracked_keys() == 100  # one account key and one address key each
    later = time.monotonic() + LOGIN_WINDOW_SECONDS + 1
    original = time.monotonic
    time.monotonic = lambda: later
    try:
        throttle.reserve("10.0.0.2", "someone")
    finally:
        time.monotonic = original
    assert throttle.tracked_keys() == 2, "expired attempts are pruned, not kept forever"


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(app):
    insert_request(
        app.config["REPOSITORY"],
        kind="objection",
        first_name="=1+1",
        last_name="@SUM(A1)",
        email="x@example.fr",
        objection_reason="-cmd|' /C calc'!A0",
        received_at=RECEIVED,
    )
    client = app.test_client()
    login(client)
    rows = client.get("/console/demandes.csv").get_data(as_text=True).splitlines()
    row = next(r for r in rows if "x@example.fr" in r)
    assert "'=1+1" in row and "'@SUM(A1)" in row and "'-cmd|" in row
    assert ";=1+1" not in row and ";@SUM" not in row


def test_two_web_app_processes_share_the_login_throttle_through_redis(redis_prefix):
    """Issue #23.6: with REDIS_URL, attempts made on one process count on the other, atomically."""
    import threading

    import redis

    from console.login import LOGIN_FREE_ATTEMPTS, RedisLoginThrottle
    from devtools.databases import REDIS_URL

    first, second = (RedisLoginThrottle(redis.StrictRedis.from_url(REDIS_URL), redis_prefix) for _ in range(2))
    for i in range(LOGIN_FREE_ATTEMPTS):
        assert (first if i % 2 else second).reserve("10.1.1.1", "agent.dpo") == 0
    assert first.reserve("10.1.1.1", "agent.dpo") > 0 and second.reserve("10.1.1.1", "agent.dpo") > 0
    assert second.reserve("10.1.1.2", "agent.dpo") == 0, "another address is not slowed by this one"

    stored = redis.StrictRedis.from_url(REDIS_URL).keys(f"{redis_prefix}:*")
    assert stored and not any(b"10.1.1" in k or b"agent" in k for k in stored), "only hashes are stored"

    # Sixteen simultaneous attempts on one account over the two processes: only the free ones pass.
    passed, barrier = [], threading.Barrier(16)

    def attempt(i):
        barrier.wait()
        if (first if i % 2 else second).reserve("10.2.2.2", "agent.b") == 0:
            passed.append(i)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(passed) == LOGIN_FREE_ATTEMPTS

    first.succeeded("10.2.2.2", "agent.b")
    assert second.reserve("10.2.2.2", "agent.b") == 0, "a success clears the account's count everywhere"


def test_an_unreachable_redis_falls_back_to_the_process_throttle(caplog):
    import redis

    from console.login import LOGIN_FREE_ATTEMPTS, RedisLoginThrottle

    throttle = RedisLoginThrottle(redis.StrictRedis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2))
    for _ in range(LOGIN_FREE_ATTEMPTS):
        assert throttle.reserve("10.3.3.3", "agent.dpo") == 0
    assert throttle.reserve("10.3.3.3", "agent.dpo") > 0, "still limited, in this process"
    assert "Redis unavailable" in caplog.text


def test_the_app_uses_the_redis_throttle_when_redis_is_configured(app, monkeypatch):
    from console.login import RedisLoginThrottle, throttle
    from devtools.databases import REDIS_URL

    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    with app.app_context():
        app.extensions.pop("login_throttle", None)
        assert isinstance(throttle(), RedisLoginThrottle)
        app.extensions.pop("login_throttle", None)


def test_the_console_works_before_any_conversation_is_stored(tmp_path):
    """A fresh install: the web app starts before Rasa has created its `events` table."""
    from console.accounts import create_operator
    from webapp import create_app

    app_url, tracker_url = f"sqlite:///{tmp_path / 'app.db'}", f"sqlite:///{tmp_path / 'empty.db'}"
    create_operator(RequestRepository(app_url), "agent.vide", "un mot de passe assez long", role="réviseur")
    client = create_app(app_url, tracker_url).test_client()
    page = client.get("/console/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post(
        "/console/connexion",
        data={"identifiant": "agent.vide", "mot_de_passe": "un mot de passe assez long", "csrf": token},
    )
    for path in ("/console/tableau-de-bord", "/console/conversations", "/console/faits-a-revoir"):
        assert client.get(path).status_code == 200, path
