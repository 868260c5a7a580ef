"""The Rasa server keeps logging at INFO once its model is loaded (rasa_addons.rasa_server)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.servers


def log_text(server) -> str:
    return (server.workdir / f"rasa-{server.port}.log").read_text(errors="replace")


def test_the_rasa_server_says_it_is_ready_and_keeps_its_info_records(assistant):
    """Loading the model used to set the root logger to WARNING (numpy.distutils): « up and
    running » and every later INFO record of the server were lost. The readiness record is
    written at INFO after the load, so it is only there if the level was put back."""
    lines = log_text(assistant).splitlines()  # the log is appended to at each (re)start
    started = [line for line in lines if "Starting Rasa server on" in line]
    ready = [line for line in lines if "Rasa server is up and running (process" in line]
    assert started and len(ready) == len(started), (started, ready)
    assert all(" INFO " in line for line in ready), ready
    loaded = [line for line in lines if "Loading model" in line]
    assert len(loaded) == len(ready) and all(a[:19] <= b[:19] for a, b in zip(loaded, ready, strict=True))
