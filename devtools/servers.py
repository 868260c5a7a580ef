"""Start the real action server and Rasa server for tests and benchmarks.

Each server runs as a subprocess on a free port, with its own endpoints file and
tracker store, logging to files under the given directory so test output stays
readable.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import requests

from settings import PROJECT_ROOT
from training.model_store import current_model_path

API_TOKEN = "test-api-token"
# Off-topic messages, for tests that need a conversation that fell back (console filters,
# review). Which of them a freshly trained model declines varies from one training to the
# next (docs/benchmarks.md, « Stabilité de l'entraînement »): such tests use the first one the
# running model declines, so that they test the console, not one training run.
OFF_TOPIC = (
    "quel temps fera-t-il demain à Brest ?",
    "qsdfjklm azerty",
    "qui a gagné le match de rugby hier soir ?",
    "donnez-moi une recette de pâte à crêpes",
    "raconte-moi une blague sur les chats",
    "quelle est la météo demain à Lyon ?",
    "combien font 17 fois 23 ?",
    "j'ai mal au dos depuis trois jours, que dois-je faire ?",
)
ACTION_TOKEN = "test-action-server-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(PROJECT_ROOT),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONWARNINGS": "ignore",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "SANIC_REQUEST_MAX_SIZE": "1048576",
            "ACTION_SERVER_TOKEN": ACTION_TOKEN,
        }
    )
    env.update(extra or {})
    return env


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}; log {log}:\n" + log.read_text()[-3000:])
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout} s; log: {log}")


def stop(process: Optional[subprocess.Popen]) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class ActionServer:
    workdir: Path
    env: Dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ActionServer":
        log = self.workdir / f"actions-{self.port}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rasa_addons.action_server", "--port", str(self.port)],
            cwd=PROJECT_ROOT,
            env=base_env(self.env),
            stdout=open(log, "a"),
            stderr=subprocess.STDOUT,
        )
        wait_until_up(f"{self.url}/health", self.process, log)
        return self

    def stop(self) -> None:
        stop(self.process)


@dataclass
class RasaServer:
    workdir: Path
    action_url: str
    tracker_store_url: str
    env: Dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    model: Path = field(default_factory=current_model_path)
    process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "RasaServer":
        log = self.workdir / f"rasa-{self.port}.log"
        command = [
            sys.executable,
            "-m",
            "rasa_addons.rasa_server",
            "--model",
            str(self.model),
            "--port",
            str(self.port),
            "--endpoints",
            "endpoints.yml",
            "--credentials",
            "credentials.yml",
            "--enable-api",
        ]
        origins = self.env.get("CORS_ORIGINS")
        if origins:
            command += ["--cors", *origins.split()]
        env = {
            "ACTION_SERVER_URL": f"{self.action_url}/webhook",
            "TRACKER_STORE_URL": self.tracker_store_url,
            "RASA_API_TOKEN": API_TOKEN,
        }
        env.update(self.env)
        self.process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=base_env(env),
            stdout=open(log, "a"),
            stderr=subprocess.STDOUT,
        )
        wait_until_up(f"{self.url}/", self.process, log)
        return self

    def stop(self) -> None:
        stop(self.process)

    def restart(self) -> None:
        self.stop()
        self.start()

    # Clients ---------------------------------------------------------------
    def say(self, sender: str, message: str, timeout: float = 30) -> List[dict]:
        """Send a message over the public REST channel; return the reply elements."""
        token = self.env.get("REST_CHANNEL_TOKEN")
        response = requests.post(
            f"{self.url}/webhooks/rest/webhook",
            json={"sender": sender, "message": message},
            headers={"Authorization": f"Bearer {token}"} if token else {},
            timeout=timeout,
        )
        response.raise_for_status()
        return response.json()

    def parse(self, text: str) -> dict:
        response = requests.post(
            f"{self.url}/model/parse", params={"token": API_TOKEN}, json={"text": text}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def declined_message(self) -> str:
        """The first off-topic message the running model answers with a fallback, not a fact."""
        from training.evaluation import Understanding, assistant_thresholds

        thresholds = assistant_thresholds()
        for text in OFF_TOPIC:
            if Understanding.from_parse(self.parse(text)).decide(*thresholds)[1] is None:
                return text
        raise AssertionError(f"the model gives a fact to every off-topic message of {OFF_TOPIC}")

    def tracker(self, sender: str) -> dict:
        response = requests.get(f"{self.url}/conversations/{sender}/tracker", params={"token": API_TOKEN}, timeout=30)
        response.raise_for_status()
        return response.json()


@dataclass
class WebApp:
    workdir: Path
    port: int
    env: Dict[str, str] = field(default_factory=dict)
    process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "WebApp":
        log = self.workdir / f"webapp-{self.port}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "webapp", "--port", str(self.port)],
            cwd=PROJECT_ROOT,
            env=base_env(self.env),
            stdout=open(log, "a"),
            stderr=subprocess.STDOUT,
        )
        wait_until_up(f"{self.url}/sante", self.process, log)
        return self

    def stop(self) -> None:
        stop(self.process)
