"""Server logs of `make run` rotate by size (issue #23.15), and the containers' logs too."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import yaml

from settings import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "rotating_log.py"


def test_a_log_rotates_by_size_and_keeps_a_bounded_number_of_files(tmp_path):
    log = tmp_path / "rasa.log"
    lines = "".join(f"ligne {i:04d} " + "x" * 40 + "\n" for i in range(400))  # about 20 kB
    env = {**os.environ, "LOG_MAX_BYTES": "4000", "LOG_BACKUPS": "2"}
    subprocess.run([sys.executable, str(SCRIPT), str(log)], input=lines.encode(), env=env, check=True, timeout=30)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["rasa.log", "rasa.log.1", "rasa.log.2"], files
    for path in tmp_path.iterdir():
        assert path.stat().st_size <= 4000
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert all(line.startswith("ligne ") for line in path.read_text().splitlines()), "no line is split"
    assert log.read_text().splitlines()[-1].startswith("ligne 0399"), "the newest lines are in the live file"


def test_run_sh_sends_every_server_through_the_rotating_log():
    script = (PROJECT_ROOT / "scripts" / "run.sh").read_text()
    for name in ("actions.log", "webapp.log", "rasa.log"):
        assert f"> >(log_to {name}) 2>&1 &" in script
    assert "> var/logs/" not in script


def test_containers_logs_rotate():
    compose = yaml.safe_load((PROJECT_ROOT / "docker" / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        logging = service.get("logging")
        assert logging and logging["options"]["max-size"] and logging["options"]["max-file"], name
