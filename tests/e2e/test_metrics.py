"""Metrics and JSON logs of the real servers (issue #22): a scripted conversation moves the Rasa
server's, the action server's and the web app's /metrics as expected, no label holds a personal
datum, and with LOG_FORMAT=json every log line of every process is a JSON object that never holds
the sender id nor an e-mail address."""

from __future__ import annotations

import json
import re
import smtplib
import subprocess
import sys
import time
import uuid
from email.message import EmailMessage

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from devtools.servers import ACTION_TOKEN, ActionServer, RasaServer, WebApp, base_env, free_port
from metrics.logs import conversation_hash
from settings import PROJECT_ROOT
from tests.e2e.replies import customs, form_step, new_sender

pytestmark = pytest.mark.servers


def scrape(base_url: str) -> dict:
    response = requests.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def total(found: dict, name: str) -> float:
    return sum(number for (sample, _), number in found.items() if sample == name)


def label_values(found: dict) -> set:
    return {v for _, labels in found for _, v in labels}


def test_a_conversation_moves_the_metrics_of_every_server(assistant, action_server, web_app):
    sender = new_sender("metrics")
    declined = assistant.declined_message()  # Rasa's HTTP API: not a channel message
    rasa_before, actions_before = scrape(assistant.url), scrape(action_server.url)

    fact = assistant.say(sender, "Combien de temps mes données sont-elles conservées ?")
    assert any("fact_id" in c for c in customs(fact)), fact
    off_topic = assistant.say(sender, declined)
    started = assistant.say(sender, "/request_erasure")
    assert form_step(started)["name"] == "erasure_request_form", started
    cancelled = assistant.say(sender, "annuler")
    replies = fact + off_topic + started + cancelled
    reasons = [c["fallback"] for c in customs(replies) if "fallback" in c]
    assert reasons, off_topic

    rasa_after, actions_after, web = scrape(assistant.url), scrape(action_server.url), scrape(web_app.url)

    def moved(name, **labels):
        return value(rasa_after, name, **labels) - value(rasa_before, name, **labels)

    assert moved("mds_messages_received_total", channel="rest") == 4
    assert moved("mds_message_handling_seconds_count", channel="rest") == 4
    assert total(rasa_after, "mds_fallbacks_total") - total(rasa_before, "mds_fallbacks_total") == len(reasons)
    for reason in set(reasons):
        assert moved("mds_fallbacks_total", reason=reason) == reasons.count(reason), reason
    offers = sum(1 for c in customs(replies) if c.get("candidates"))
    assert moved("mds_disambiguations_offered_total") == offers
    assert moved("mds_forms_started_total", form="erasure_request_form") == 1
    assert moved("mds_forms_abandoned_total", form="erasure_request_form") == 1
    assert moved("mds_forms_completed_total", form="erasure_request_form") == 0
    assert moved("mds_rate_limited_total", channel="rest") == 0

    count = "mds_action_seconds_count"
    # Fact answers and fallbacks run in the Rasa server (rasa_addons.local_actions), the others on
    # the action server; each server times the actions it runs.
    for action in ("action_answer_fact", "action_answer_fallback"):
        assert value(rasa_after, count, action=action) > value(rasa_before, count, action=action), action
    assert value(actions_after, count, action="action_cancel_request") > value(
        actions_before, count, action="action_cancel_request"
    )
    assert total(actions_after, "mds_action_seconds_count") > 0
    assert ("mds_storage_unavailable_total", ()) in actions_after

    assert value(web, "mds_app_database_up") == 1
    assert {"received", "in_progress", "done", "refused"} <= {
        dict(labels)["status"] for name, labels in web if name == "mds_requests"
    }
    assert ("mds_open_requests_overdue", ()) in web and ("mds_outbox_emails", (("status", "queued"),)) in web

    for found in (rasa_after, actions_after, web):
        for label in label_values(found):
            assert sender not in label and "@" not in label, label


def test_metrics_are_refused_to_a_wrong_token_only_off_the_loopback(assistant, action_server, web_app):
    """From here every client is on the loopback: the servers answer it whatever it sends (the
    token rule for other clients is tested on metrics.access.allowed, tests/test_observability.py)."""
    for url in (assistant.url, action_server.url, web_app.url):
        response = requests.get(f"{url}/metrics", headers={"Authorization": "Bearer wrong"}, timeout=10)
        assert response.status_code == 200 and "mds_" in response.text, url


# --- LOG_FORMAT=json ------------------------------------------------------------------------
EMAIL = "zoe.quillebeuf@example.org"


def json_lines(path) -> list:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"{path.name}:{number} is not JSON: {line[:300]!r}")
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message"} <= set(record), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"]), line
        records.append(record)
    assert records, f"{path.name} is empty"
    return records


def wait_for(predicate, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_json_logs_of_every_process(tmp_path):
    sender = f"json-logs-{uuid.uuid4().hex[:10]}"
    app_url = f"sqlite:///{tmp_path / 'app.db'}"
    tracker_url = f"sqlite:///{tmp_path / 'conversations.db'}"
    env = {"LOG_FORMAT": "json", "DATABASE_URL": app_url, "MDS_VAR_DIR": str(tmp_path)}
    mail_port = free_port()
    mail_env = base_env({**env, "MAIL_DIR": str(tmp_path / "mail"), "SMTP_URL": f"smtp://127.0.0.1:{mail_port}"})
    processes = []
    actions = rasa = web = None
    try:
        sink_log, sender_log = tmp_path / "mail-sink.log", tmp_path / "mail-sender.log"
        for module, log in (("mail.sink", sink_log), ("mail.sender", sender_log)):
            arguments = ["--port", str(mail_port)] if module == "mail.sink" else ["--interval", "0.5"]
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", module, *arguments],
                    cwd=PROJECT_ROOT,
                    env=mail_env,
                    stdout=open(log, "w"),
                    stderr=subprocess.STDOUT,
                )
            )
        # Rasa at DEBUG: its most talkative level, where messages quote the sender id and the text.
        actions = ActionServer(tmp_path, env=dict(env)).start()
        rasa = RasaServer(
            tmp_path, action_url=actions.url, tracker_store_url=tracker_url, env={**env, "LOG_LEVEL": "DEBUG"}
        ).start()
        web = WebApp(tmp_path, free_port(), env={**env, "TRACKER_STORE_URL": tracker_url}).start()

        rasa.say(sender, "Combien de temps mes données sont-elles conservées ?")
        rasa.say(sender, "/request_erasure")
        rasa.say(sender, f"mon adresse est {EMAIL}")
        rasa.say(sender, "annuler")
        session = requests.Session()
        page = session.get(f"{web.url}/console/connexion", timeout=10).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        login = {"identifiant": EMAIL, "mot_de_passe": "not the password", "csrf": csrf}
        assert session.post(f"{web.url}/console/connexion", data=login, timeout=10).status_code == 401
        session.get(f"{web.url}/console/conversations/{sender}", timeout=10)

        wait_for(lambda: "mail sink listening" in sink_log.read_text() and "mail sender" in sender_log.read_text())
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "test@example.net", EMAIL, "essai"
        message.set_content("corps")
        with smtplib.SMTP("127.0.0.1", mail_port, timeout=10) as smtp:
            smtp.send_message(message)
    finally:
        for server in (web, rasa, actions):
            if server is not None:
                server.stop()
        for process in processes:
            process.terminate()
            process.wait(timeout=20)

    logs = {path.name: path for path in tmp_path.glob("*.log")}
    assert {name.split("-")[0] for name in logs} >= {"rasa", "actions", "webapp", "mail"}, logs
    records = {name: json_lines(path) for name, path in logs.items()}
    for name, path in logs.items():
        text = path.read_text(encoding="utf-8")
        assert sender not in text, f"the raw sender id is in {name}"
        assert EMAIL not in text and "quillebeuf" not in text.lower(), f"the e-mail address is in {name}"
    rasa_records = next(r for name, r in records.items() if name.startswith("rasa-"))
    in_conversation = [r for r in rasa_records if r.get("conversation")]
    assert in_conversation, "the Rasa server logged nothing about the conversation"
    hashed = conversation_hash(sender, ACTION_TOKEN)
    assert {r["conversation"] for r in in_conversation} == {hashed}
    assert all(re.fullmatch(r"[0-9a-f]{32}", r.get("request_id", "")) for r in in_conversation)
    assert len({r["request_id"] for r in in_conversation}) == 4, "one id per message"
    assert any(r["logger"].startswith("sanic") for records_ in records.values() for r in records_), (
        "Sanic's own loggers go through the JSON handler too"
    )
