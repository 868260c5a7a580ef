"""The production description in docker/ is valid and says what the deployment needs."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from settings import PROJECT_ROOT

DOCKER = PROJECT_ROOT / "docker"


@pytest.fixture(scope="module")
def compose_config():
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(
            "docker-compose is needed to check docker/ (apt-get install docker-compose; `make test` does it as root)"
        )
    result = subprocess.run(
        [binary, "-f", str(DOCKER / "docker-compose.yml"), "--env-file", str(DOCKER / ".env.example"), "config"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_has_the_whole_deployment(compose_config):
    services = compose_config["services"]
    assert {
        "postgres",
        "redis",
        "rabbitmq",
        "rasa1",
        "rasa2",
        "actions1",
        "actions2",
        "webapp",
        "nginx",
        "migrate",
    } <= set(services)
    for name in ("rasa1", "rasa2", "actions1", "actions2", "webapp"):
        env = services[name]["environment"]
        assert env["TRACKER_STORE_URL"].startswith("postgresql://") and env["DATABASE_URL"].startswith("postgresql://")
        assert env["TRACKER_STORE_URL"] != env["DATABASE_URL"], "Rasa's tables and ours live in separate databases"
        assert env["REDIS_URL"].startswith("redis://")
    assert "postgres-data" in compose_config["volumes"]
    for name in ("postgres", "redis", "nginx"):
        assert "healthcheck" in services[name]
    assert services["rabbitmq"].get("profiles") == ["broker"]


def test_images_are_pinned_and_run_as_non_root():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    for image in re.findall(r"^FROM (\S+)", dockerfile, flags=re.M):
        assert image in ("base",) or re.search(r":\d", image), f"unpinned base image {image}"
    assert "USER app" in dockerfile
    compose = (DOCKER / "docker-compose.yml").read_text()
    for image in re.findall(r"image: (\S+)", compose):
        assert re.search(r":v?\d", image), f"unpinned image {image}"  # prom/prometheus tags: v2.55.1
    assert "HEALTHCHECK" in dockerfile


def nginx_configuration() -> str:
    """Every nginx file the compose file mounts (shared part, sites, included locations)."""
    return "\n".join(
        (DOCKER / name).read_text()
        for name in ("nginx-common.conf", "nginx-locations.inc", "nginx.conf", "nginx-tls.conf")
    )


def test_nginx_sticks_socketio_and_upgrades_websockets():
    conf = nginx_configuration()
    sticky = re.search(r"upstream rasa_sticky \{([^}]*)\}", conf).group(1)
    assert "ip_hash" in sticky
    socketio = re.search(r"location /socket.io/ \{([^}]*)\}", conf).group(1)
    assert "rasa_sticky" in socketio and "Upgrade $http_upgrade" in socketio
    rest = re.search(r"location = /webhooks/rest/webhook \{([^}]*)\}", conf).group(1)
    assert "rasa_any" in rest
    assert "/model" not in conf and "/conversations" not in conf, "Rasa's HTTP API stays private"


def test_env_example_holds_every_secret_the_compose_file_uses():
    compose = (DOCKER / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{(\w+)(?::-[^}]*)?\}", compose))
    documented = {
        line.split("=", 1)[0].lstrip("# ") for line in (DOCKER / ".env.example").read_text().splitlines() if "=" in line
    }
    assert used <= documented, used - documented


def test_nginx_logs_no_query_string():
    conf = nginx_configuration()
    fmt = next(line for line in conf.splitlines() if line.startswith("log_format no_query"))
    assert "$uri" in fmt and "$request_uri" not in fmt and '"$request ' not in fmt and "$args" not in fmt
    assert "access_log /var/log/nginx/access.log no_query;" in conf
