"""Metrics and logs without the servers (issue #22): who may read /metrics, what the web app
counts and reads from the database, how forms and fallbacks are read from the saved events,
the JSON log format and its masking, and docker/'s Prometheus and Grafana files."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
import re

import pytest
import sqlalchemy as sa
import yaml
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

import metrics.action_server  # noqa: F401 - registers its metrics in this process
import metrics.rasa_server  # noqa: F401
from gdpr import deadlines
from metrics import access, logs
from settings import PROJECT_ROOT
from storage.database import engine_for, migrate
from storage.schema import gdpr_requests, outgoing_emails

DOCKER = PROJECT_ROOT / "docker"
TOKEN = "s3cret-metrics-token"


# --- Who may read /metrics -----------------------------------------------------------------
@pytest.mark.parametrize("peer", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "::ffff:127.0.0.1"])
def test_loopback_clients_read_the_metrics_without_a_token(peer):
    assert access.allowed(peer, None, "")
    assert access.allowed(peer, "Bearer wrong", TOKEN)


@pytest.mark.parametrize(
    "peer", ["10.0.0.5", "172.18.0.3", "2001:db8::1", "::ffff:10.0.0.1", "0.0.0.0", "localhost", "", None]
)
def test_without_metrics_token_other_clients_are_refused(peer):
    assert not access.allowed(peer, None, "")
    assert not access.allowed(peer, "Bearer ", "")
    assert not access.allowed(peer, f"Bearer {TOKEN}", "")


@pytest.mark.parametrize(
    "header, expected",
    [
        (f"Bearer {TOKEN}", True),
        ("Bearer wrong", False),
        (TOKEN, False),
        (f"Basic {TOKEN}", False),
        (f"Bearer {TOKEN} ", False),
        ("", False),
        (None, False),
    ],
)
def test_other_clients_need_the_metrics_token(header, expected):
    assert access.allowed("172.18.0.7", header, TOKEN) is expected


# --- The web app ---------------------------------------------------------------------------
@pytest.fixture
def web(tmp_path, monkeypatch):
    from webapp import create_app

    monkeypatch.setenv("CONSOLE_SECRET_KEY", "test-console-key")
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    app_url = f"sqlite:///{tmp_path / 'app.db'}"

    def make():
        application = create_app(app_url, f"sqlite:///{tmp_path / 'conversations.db'}")
        application.config["TESTING"] = True
        return application

    return make, app_url


def scrape(client, peer="127.0.0.1", **headers):
    return client.get("/metrics", environ_base={"REMOTE_ADDR": peer}, headers=headers)


def samples(text: str) -> dict:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_the_web_app_refuses_a_remote_client_without_the_token(web, monkeypatch):
    make, _ = web
    client = make().test_client()
    refused = scrape(client, "10.1.2.3")
    assert refused.status_code == 403 and "Accès aux métriques refusé" in refused.get_data(as_text=True)
    assert "mds_" not in refused.get_data(as_text=True)
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    assert scrape(client, "10.1.2.3", Authorization="Bearer wrong").status_code == 403
    allowed = scrape(client, "10.1.2.3", Authorization=f"Bearer {TOKEN}")
    assert allowed.status_code == 200 and allowed.content_type.startswith("text/plain; version=0.0.4")
    assert scrape(client).status_code == 200, "loopback: no token needed"


def test_a_forwarded_for_header_does_not_make_a_client_local(web, monkeypatch):
    """Behind nginx (TRUSTED_PROXY_COUNT=1) the web app reads X-Forwarded-For for the citizen's
    address; /metrics must still judge the connection's own peer."""
    monkeypatch.setenv("TRUSTED_PROXY_COUNT", "1")
    make, _ = web
    client = make().test_client()
    response = scrape(client, "172.18.0.9", **{"X-Forwarded-For": "127.0.0.1"})
    assert response.status_code == 403


def _request(connection, number: int, status: str, deadline):
    now = dt.datetime.now(dt.timezone.utc)
    connection.execute(
        sa.insert(gdpr_requests).values(
            reference=f"HDH-2026-{number:06d}",
            kind="erasure",
            status=status,
            data_scope="hdh_project",
            controller="Health Data Hub",
            first_name="Jeanne",
            last_name="Dupont",
            email=f"jeanne.{number}@exemple.fr",
            received_at=now,
            deadline=deadline,
            updated_at=now,
            sender_id=f"citizen-{number}",
            submission_key=f"key-{number}",
            letter_key=f"letter-{number}",
        )
    )


def _email(connection, number: int, status: str):
    now = dt.datetime.now(dt.timezone.utc)
    connection.execute(
        sa.insert(outgoing_emails).values(
            idempotency_key=f"test:{number}",
            purpose="status",
            recipient=f"citoyen.{number}@exemple.fr",
            subject="Votre demande",
            body_text="…",
            body_html="…",
            message_id=f"<{number}@exemple.fr>",
            status=status,
            next_attempt_at=now,
            created_at=now,
        )
    )


def test_database_gauges_count_requests_deadlines_and_emails(web):
    make, app_url = web
    client = make().test_client()
    migrate(app_url)
    today = deadlines.today()
    with engine_for(app_url).begin() as connection:
        for number, (status, days) in enumerate(
            [
                ("reçue", None),  # not transmitted yet: no deadline
                ("reçue", 20),
                ("en cours", 10),
                ("en cours", 7),
                ("reçue", 2),
                ("reçue", 0),
                ("en cours", -3),
                ("traitée", -40),  # closed: in no band, even past its deadline
                ("refusée", 5),
            ],
            start=1,
        ):
            _request(connection, number, status, None if days is None else today + dt.timedelta(days=days))
        for number, status in enumerate(["en attente", "en attente", "envoyé", "refusé"], start=1):
            _email(connection, number, status)
    found = samples(scrape(client).get_data(as_text=True))
    assert value(found, "mds_app_database_up") == 1
    assert value(found, "mds_requests", status="received") == 4
    assert value(found, "mds_requests", status="in_progress") == 3
    assert value(found, "mds_requests", status="done") == 1
    assert value(found, "mds_requests", status="refused") == 1
    bands = {"to_transmit": 1, "10_days_or_more": 2, "under_10_days": 1, "under_5_days": 2, "overdue": 1}
    for band, number in bands.items():
        assert value(found, "mds_open_requests_by_deadline", band=band) == number, band
    assert value(found, "mds_open_requests_overdue") == 1
    assert value(found, "mds_outbox_emails", status="queued") == 2
    assert value(found, "mds_outbox_emails", status="sent") == 1
    assert value(found, "mds_outbox_emails", status="refused") == 1


def test_an_unavailable_database_is_a_gauge_not_an_error(tmp_path, monkeypatch):
    from webapp import create_app

    monkeypatch.setenv("CONSOLE_SECRET_KEY", "test-console-key")
    unreachable = "postgresql://nobody:nothing@127.0.0.1:1/app"  # nothing listens on port 1
    app = create_app(unreachable, f"sqlite:///{tmp_path / 'conversations.db'}")
    response = scrape(app.test_client())
    assert response.status_code == 200
    found = samples(response.get_data(as_text=True))
    assert value(found, "mds_app_database_up") == 0
    assert not any(name == "mds_requests" for name, _ in found)


def test_requests_are_timed_by_endpoint_and_failed_logins_counted(web):
    make, _ = web
    client = make().test_client()
    before = samples(scrape(client).get_data(as_text=True))
    client.get("/console/demandes/HDH-2026-000123")  # redirected to the login page
    client.get("/console/conversations/citizen-secret-42")
    page = client.get("/console/connexion").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    wrong = {"identifiant": "jean.dupont@example.org", "mot_de_passe": "not the password", "csrf": csrf}
    assert client.post("/console/connexion", data=wrong).status_code == 401
    text = scrape(client).get_data(as_text=True)
    after = samples(text)
    delta = value(after, "mds_console_failed_logins_total", reason="invalid") - value(
        before, "mds_console_failed_logins_total", reason="invalid"
    )
    assert delta == 1
    endpoints = {dict(labels).get("endpoint") for name, labels in after if name == "mds_web_request_seconds_count"}
    assert {"console.requests.request_detail", "console.conversations.transcript", "console.login.login"} <= endpoints
    for secret in ("HDH-2026-000123", "citizen-secret-42", "jean.dupont", "@"):
        assert secret not in "".join(line for line in text.splitlines() if not line.startswith("#")), secret


# --- Forms, fallbacks and disambiguations, from the events the tracker store saves ----------
DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [request_erasure, cancel, inform]
slots:
  data_scope: {type: text, influence_conversation: false, mappings: [{type: custom}]}
forms:
  erasure_request_form: {required_slots: [data_scope]}
  request_status_form: {required_slots: [data_scope]}
responses:
  utter_ok: [{text: ok}]
"""
)


def _count(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_forms_fallbacks_and_offers_are_counted_once_from_saved_events(tmp_path):
    from rasa_addons.tracker_store import MaskingSQLTrackerStore

    store = MaskingSQLTrackerStore(domain=DOMAIN, url=f"sqlite:///{tmp_path / 'conversations.db'}")
    names = [
        ("mds_forms_started_total", {"form": "erasure_request_form"}),
        ("mds_forms_abandoned_total", {"form": "erasure_request_form"}),
        ("mds_forms_completed_total", {"form": "erasure_request_form"}),
        ("mds_forms_started_total", {"form": "request_status_form"}),
        ("mds_forms_completed_total", {"form": "request_status_form"}),
        ("mds_fallbacks_total", {"reason": "ambiguous"}),
        ("mds_fallbacks_total", {"reason": "out_of_scope"}),
        ("mds_fallbacks_total", {"reason": "other"}),
        ("mds_disambiguations_offered_total", {}),
    ]
    before = {(n, tuple(labels.items())): _count(n, **labels) for n, labels in names}

    def moved(name, **labels):
        return _count(name, **labels) - before[(name, tuple(labels.items()))]

    tracker = DialogueStateTracker.from_events("citizen-forms", [ActionExecuted("action_listen")], slots=DOMAIN.slots)

    def turn(*events):
        for event in events:
            tracker.update(event)
        asyncio.run(store.save(tracker))

    turn(  # the form starts; a question in the middle is off-topic
        UserUttered("je veux faire effacer mes données", {"name": "request_erasure", "confidence": 0.99}),
        ActionExecuted("erasure_request_form"),
        ActiveLoop("erasure_request_form"),
        SlotSet("requested_slot", "data_scope"),
        BotUttered("Quelles données ?", {"custom": {"form": {"name": "erasure_request_form", "step": 1}}}),
        ActionExecuted("action_listen"),
    )
    turn(
        UserUttered("quel temps fait-il ?", {"name": "out_of_scope", "confidence": 0.9}),
        ActionExecuted("action_answer_fallback"),
        BotUttered("Je ne peux pas répondre.", {"custom": {"fallback": "out_of_scope"}}),
        ActionExecuted("erasure_request_form"),
        BotUttered("Quelles données ?", {"custom": {"form": {"name": "erasure_request_form", "step": 1}}}),
        ActionExecuted("action_listen"),
    )
    turn(  # « annuler »: another action ends the loop
        UserUttered("annuler", {"name": "cancel", "confidence": 0.99}),
        ActionExecuted("action_cancel_request"),
        ActiveLoop(None),
        BotUttered("C'est annulé."),
        ActionExecuted("action_listen"),
    )
    turn(  # a form that ends by itself, its last slot filled
        UserUttered("où en est ma demande", {"name": "inform", "confidence": 0.99}),
        ActionExecuted("request_status_form"),
        ActiveLoop("request_status_form"),
        ActionExecuted("action_listen"),
        UserUttered("HDH-2026-000001", {"name": "inform", "confidence": 0.99}),
        ActionExecuted("request_status_form"),
        SlotSet("data_scope", "x"),
        ActiveLoop(None),
        ActionExecuted("action_listen"),
    )
    turn(
        UserUttered("droits", {"name": "nlu_fallback", "confidence": 0.4}),
        ActionExecuted("action_answer_fallback"),
        BotUttered("Vouliez-vous dire… ?", {"custom": {"fallback": "ambiguous", "candidates": ["a", "b"]}}),
        BotUttered("?", {"custom": {"fallback": "jean.dupont@example.org"}}),  # never a label value
        ActionExecuted("action_listen"),
    )
    asyncio.run(store.save(tracker))  # nothing new: nothing counted twice
    assert moved("mds_forms_started_total", form="erasure_request_form") == 1
    assert moved("mds_forms_abandoned_total", form="erasure_request_form") == 1
    assert moved("mds_forms_completed_total", form="erasure_request_form") == 0
    assert moved("mds_forms_started_total", form="request_status_form") == 1
    assert moved("mds_forms_completed_total", form="request_status_form") == 1
    assert moved("mds_fallbacks_total", reason="out_of_scope") == 1
    assert moved("mds_fallbacks_total", reason="ambiguous") == 1
    assert moved("mds_fallbacks_total", reason="other") == 1
    assert moved("mds_disambiguations_offered_total") == 1


def test_label_values_come_from_fixed_sets():
    from metrics.rasa_server import channel_label, fallback_label, form_label

    assert channel_label("rest") == "rest" and channel_label("citizen-42") == "other"
    assert fallback_label("low_confidence") == "low_confidence" and fallback_label("x@y.fr") == "other"
    assert form_label("erasure_request_form", {"erasure_request_form"}) == "erasure_request_form"
    assert form_label("jean@example.org", {"erasure_request_form"}) == "other"
    assert form_label("HDH-2026-000001") == "other" and form_label("access_request_form") == "access_request_form"


# --- Logs ------------------------------------------------------------------------------------
@pytest.fixture
def json_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    for item in logs._filters():
        handler.addFilter(item)
    logger = logging.getLogger("tests.observability")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.removeHandler(handler)


def test_json_records_are_one_masked_line_each_with_the_hashed_conversation(json_log):
    logger, stream = json_log
    sender = "citizen-7f3a9"
    logger.info("outside any conversation")
    with logs.context(sender, "message-1"):
        logger.warning("reply to %s failed\nfor sender '%s'", "jean.dupont@example.org", sender)
        try:
            raise ValueError("bad address jean.dupont@example.org, NIR 2 84 12 75 123 456 78")
        except ValueError:
            logger.exception("action failed, phone 06 98 76 54 32")
    logger.info("after")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4, lines
    records = [json.loads(line) for line in lines]
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])
    first, warning, failure, after = records
    assert "conversation" not in first and "request_id" not in first and "conversation" not in after
    assert warning["level"] == "WARNING" and warning["logger"] == "tests.observability"
    assert warning["conversation"] == failure["conversation"] == logs.conversation_hash(sender)
    assert re.fullmatch(r"[0-9a-f]{16}", warning["conversation"])
    assert warning["request_id"] == "message-1"
    assert "ValueError" in failure["exception"]
    text = stream.getvalue()
    for secret in (sender, "jean.dupont@example.org", "2 84 12 75 123 456 78", "06 98 76 54 32"):
        assert secret not in text, secret
    assert "[e-mail masqué]" in warning["message"] and "[e-mail masqué]" in failure["exception"]


def test_the_conversation_hash_is_keyed_and_shared_by_processes_with_the_same_secret():
    assert logs.conversation_hash("citizen", "secret-a") == logs.conversation_hash("citizen", "secret-a")
    assert logs.conversation_hash("citizen", "secret-a") != logs.conversation_hash("citizen", "secret-b")
    assert logs.conversation_hash("citizen", "secret-a") != logs.conversation_hash("citizen2", "secret-a")


def test_log_format_setting_picks_the_formatter(monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "json")
    assert isinstance(logs._handler().formatter, logs.JsonFormatter)
    for value in ("text", "", "xml"):
        monkeypatch.setenv("LOG_FORMAT", value)
        handler = logs._handler()
        assert not isinstance(handler.formatter, logs.JsonFormatter) and handler.formatter._fmt == logs.TEXT_FORMAT
        assert {type(f) for f in handler.filters} == {logs.ContextFilter, logs.MaskingFilter}


# --- docker/: Prometheus scrapes every process, Grafana shows metrics that exist -----------
def test_prometheus_scrapes_every_process_with_the_token():
    config = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    compose = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    token_file = next(
        re.search(r"> (/\S+)", part).group(1)
        for part in compose["services"]["prometheus"]["entrypoint"]
        if "> /" in part
    )
    targets = set()
    for job in config["scrape_configs"]:
        assert job["authorization"] == {"type": "Bearer", "credentials_file": token_file}, job["job_name"]
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for static in job["static_configs"]:
            targets |= set(static["targets"])
    assert targets == {"rasa1:5005", "rasa2:5005", "actions1:5055", "actions2:5055", "webapp:8080"}
    assert "METRICS_TOKEN" in compose["x-app"]["environment"]
    assert compose["services"]["prometheus"]["environment"]["METRICS_TOKEN"] == "${METRICS_TOKEN}"
    for service in ("prometheus", "grafana"):
        assert all(port.startswith("127.0.0.1:") for port in compose["services"][service]["ports"]), service


def test_the_grafana_dashboard_uses_the_provisioned_source_and_existing_metrics(web):
    make, _ = web
    text = scrape(make().test_client()).get_data(as_text=True)
    exposed = set()
    for family in text_string_to_metric_families(text):
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}.get(family.type, [""])
        exposed |= {family.name + suffix for suffix in suffixes}
    source = yaml.safe_load((DOCKER / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    dashboard = json.loads((DOCKER / "grafana/dashboards/mes-donnees-de-sante.json").read_text())
    used = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid
        for target in panel["targets"]:
            used |= set(re.findall(r"\bmds_\w+", target["expr"]))
    assert used and used <= exposed, used - exposed
    wanted = {"mds_messages_received_total", "mds_message_handling_seconds_bucket", "mds_fallbacks_total"}
    wanted |= {"mds_forms_completed_total", "mds_outbox_emails", "mds_open_requests_overdue"}
    assert wanted <= used
