"""Shared fixtures: trackers for action tests, the real servers for end-to-end tests."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker

import rasa_addons
from settings import PROJECT_ROOT
from training.facts import default_catalogue
from training.model_store import current_model_path

# Before any test module imports Rasa: loading models in this process then takes seconds, not 20.
rasa_addons.import_classifier_format()

RESULTS_DIR = PROJECT_ROOT / "var" / "test-results"


def make_tracker(
    intent: str = "faq",
    text: str = "",
    entities: Optional[List[Dict[str, Any]]] = None,
    response_selector: Optional[Dict[str, Any]] = None,
    slots: Optional[Dict[str, Any]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    active_loop: Optional[Dict[str, Any]] = None,
    intent_confidence: float = 0.99,
) -> Tracker:
    """A tracker as the action server receives it, for a message just understood."""
    latest_message = {
        "text": text,
        "intent": {"name": intent, "confidence": intent_confidence},
        "entities": entities or [],
        "response_selector": response_selector or {},
    }
    return Tracker(
        sender_id=f"test-{uuid.uuid4().hex[:8]}",
        slots=slots or {},
        latest_message=latest_message,
        events=events or [],
        paused=False,
        followup_action=None,
        active_loop=active_loop or {},
        latest_action_name="action_listen",
    )


def selector_for(fact_id: str, confidence: float) -> Dict[str, Any]:
    return {
        "all_retrieval_intents": ["faq"],
        "faq": {
            "response": {
                "intent_response_key": f"faq/{fact_id}",
                "confidence": confidence,
                "utter_action": f"utter_faq/{fact_id}",
            },
            "ranking": [],
        },
    }


@pytest.fixture(scope="session")
def catalogue():
    return default_catalogue()


@pytest.fixture(scope="session")
def results_dir() -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    return RESULTS_DIR


@pytest.fixture(scope="session")
def servers_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def app_database_url(servers_dir) -> str:
    return f"sqlite:///{servers_dir / 'app.db'}"


@pytest.fixture(scope="session")
def tracker_store_url(servers_dir) -> str:
    return f"sqlite:///{servers_dir / 'conversations.db'}"


@pytest.fixture(scope="session")
def web_port() -> int:
    from devtools.servers import free_port

    return free_port()


@pytest.fixture(scope="session")
def mail_dir(servers_dir) -> Path:
    """The Maildir where the end-to-end servers' e-mail lands."""
    return servers_dir / "mail"


@pytest.fixture(scope="session")
def mail_sink(mail_dir):
    """A real SMTP server on the loopback (mail.sink), as `make run` starts one."""
    from mail.sink import MaildirSink

    sink = MaildirSink(mail_dir, port=0)
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_sink(tmp_path, monkeypatch):
    """For tests in this process: a sink of their own, SMTP_URL and MAIL_DIR pointing at it."""
    from mail.sink import MaildirSink

    sink = MaildirSink(tmp_path / "mail", port=0)
    sink.start()
    monkeypatch.setenv("SMTP_URL", sink.url)
    monkeypatch.setenv("MAIL_DIR", str(sink.directory))
    monkeypatch.setenv("EMAIL_CODE_KEY", "test-email-code-key")
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def action_server(servers_dir, app_database_url, mail_sink):
    from devtools.servers import ActionServer

    server = ActionServer(
        servers_dir,
        env={
            "DATABASE_URL": app_database_url,
            "SMTP_URL": mail_sink.url,
            "MAIL_DIR": str(mail_sink.directory),
            "EMAIL_CODE_KEY": "test-email-code-key",
        },
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def assistant(servers_dir, action_server, app_database_url, tracker_store_url, web_port):
    """The real Rasa server (SQLite tracker store) talking to the real action server."""
    from devtools.servers import RasaServer

    if not current_model_path().exists():
        pytest.fail("No trained model for the current data: run `make train` (make test does it).")
    server = RasaServer(
        servers_dir,
        action_url=action_server.url,
        tracker_store_url=tracker_store_url,
        env={
            "DATABASE_URL": app_database_url,
            "RATE_LIMIT_PER_MINUTE": "100000",
            "CORS_ORIGINS": f"http://127.0.0.1:{web_port}",
        },
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def web_app(servers_dir, assistant, app_database_url, tracker_store_url, web_port, mail_sink):
    """The web app (demo page with the widget), wired to the test Rasa server."""
    from devtools.servers import WebApp

    app = WebApp(
        servers_dir,
        web_port,
        env={
            "RASA_PUBLIC_URL": assistant.url,
            "DATABASE_URL": app_database_url,
            "TRACKER_STORE_URL": tracker_store_url,
            "MDS_VAR_DIR": str(servers_dir),
            "SMTP_URL": mail_sink.url,
            "MAIL_DIR": str(mail_sink.directory),
        },
    ).start()
    yield app
    app.stop()


@pytest.fixture
def redis_prefix():
    """Redis keys of one test, under a fresh prefix (local Redis, as in production)."""
    from devtools.databases import fresh_redis_prefix

    with fresh_redis_prefix() as prefix:
        yield prefix
