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
    ready = [line for line in log_text(assistant).splitlines() if "Rasa server is up and running (process" in line]
    assert len(ready) == 1 and " INFO " in ready[0], ready
    loaded = [line for line in log_text(assistant).splitlines() if "Loading model" in line]
    assert loaded and loaded[0] < ready[0]
