"""Internal services are not open to the network: the action server listens on the loopback
and answers only the Rasa server's shared secret; no secret shows in the process list."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import requests

from devtools.servers import ACTION_TOKEN, API_TOKEN, RasaServer

pytestmark = pytest.mark.servers


def listening_addresses(port: int):
    """Local addresses listening on `port`, from the kernel's socket tables."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


def test_action_server_listens_on_the_loopback_only(action_server):
    addresses = listening_addresses(action_server.port)
    assert addresses, "no listening socket found"
    # 127.0.0.1 in /proc/net/tcp's little-endian hex; never 0.0.0.0 (00000000) nor ::.
    assert addresses == {"0100007F"}, addresses


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": ACTION_TOKEN},
        {"Authorization": f"Basic {ACTION_TOKEN}"},
    ],
)
def test_action_server_refuses_callers_without_the_secret(action_server, headers):
    forged = {
        "next_action": "action_show_request_status",
        "sender_id": "someone",
        "tracker": {
            "sender_id": "someone",
            "slots": {"request_reference": "HDH-2026-000001", "status_email": "guess@example.fr"},
        },
        "domain": {},
        "version": "3.6.2",
    }
    response = requests.post(f"{action_server.url}/webhook", json=forged, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert requests.get(f"{action_server.url}/actions", headers=headers, timeout=10).status_code == 401
    assert requests.get(f"{action_server.url}/health", timeout=10).status_code == 200


def test_action_server_errors_do_not_echo_the_request(action_server):
    secret = "Marie Curie, 12 rue des Lilas"
    broken = {
        "next_action": "action_submit_request",
        "sender_id": "x",
        "tracker": {"sender_id": "x", "latest_message": secret, "slots": secret},
        "domain": {},
    }
    response = requests.post(
        f"{action_server.url}/webhook", json=broken, timeout=10, headers={"Authorization": f"Bearer {ACTION_TOKEN}"}
    )
    assert response.status_code >= 400
    assert secret not in response.text


@pytest.fixture(scope="module")
def wrong_secret_server(tmp_path_factory, action_server, app_database_url):
    workdir = tmp_path_factory.mktemp("wrong-secret")
    server = RasaServer(
        workdir,
        action_url=action_server.url,
        tracker_store_url=f"sqlite:///{workdir / 'conversations.db'}",
        env={"DATABASE_URL": app_database_url, "ACTION_SERVER_TOKEN": "not-the-secret"},
    ).start()
    yield server
    server.stop()


def test_a_rasa_server_without_the_secret_gets_no_action(wrong_secret_server):
    # A request form needs the action server (fact answers run in the Rasa server itself).
    replies = wrong_secret_server.say(f"secret-{uuid.uuid4().hex[:8]}", "/request_erasure")
    assert "momentanément indisponible" in " ".join(r.get("text", "") for r in replies)
    assert not any("form" in (r.get("custom") or {}) for r in replies)


def test_no_secret_in_the_process_list(wrong_secret_server, assistant):
    for server in (assistant, wrong_secret_server):
        command_line = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().decode(errors="replace")
        assert "rasa_addons.rasa_server" in command_line
        assert API_TOKEN not in command_line and "--auth-token" not in command_line
    response = requests.get(f"{assistant.url}/status", timeout=10)
    assert response.status_code == 401, "the API still requires its token"
    assert requests.get(f"{assistant.url}/status", params={"token": API_TOKEN}, timeout=10).status_code == 200


def test_the_rasa_server_does_not_advertise_its_version(assistant):
    import rasa

    reply = requests.get(f"{assistant.url}/", timeout=10)
    assert reply.status_code == 200 and reply.text == "Hello from Rasa"
    assert rasa.__version__ not in reply.text
