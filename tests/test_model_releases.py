"""Model releases (training/releases.py): promotion gate, rollback, registry, reload.

No full project training here: the candidates are the model `make train` produced, a rebuilt
copy of it (same weights, new Rasa model id: an equally good model), and a real worse model,
trained in ~20 s on every tenth training example (`degraded`). Each model is scored once (the
real scoring of bench/quality.py) and the figures reused between tests.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from settings import PROJECT_ROOT
from training import releases
from training.model_store import current_model_path

_SCORES = {}


@pytest.fixture(scope="module")
def trained() -> Path:
    model = current_model_path()
    if not model.exists():
        pytest.fail("No trained model for the current data: run `make train` (make test does it).")
    return model


@pytest.fixture(scope="module")
def twin(trained, tmp_path_factory) -> Path:
    """The trained model repacked with a new Rasa model id: another model, exactly as good."""
    target = tmp_path_factory.mktemp("twin") / "mds-twin.tar.gz"
    with tarfile.open(trained, "r:gz") as source, tarfile.open(target, "w:gz", compresslevel=1) as copy:
        for member in source.getmembers():
            data = source.extractfile(member) if member.isfile() else None
            if member.name.lstrip("/") == "metadata.json":
                metadata = json.load(data)
                metadata["model_id"] = uuid.uuid4().hex
                raw = json.dumps(metadata).encode()
                member.size = len(raw)
                data = io.BytesIO(raw)
            copy.addfile(member, data)
    return target


@pytest.fixture(scope="module")
def degraded(tmp_path_factory) -> Path:
    """A real, complete model (NLU and dialogue) trained on every tenth example of each label."""
    work = tmp_path_factory.mktemp("degraded")
    data = work / "data"
    shutil.copytree(PROJECT_ROOT / "data" / "rules", data / "rules")
    (data / "nlu").mkdir()
    for path in sorted((PROJECT_ROOT / "data" / "nlu").glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for block in document.get("nlu", []):
            if "intent" in block and isinstance(block["examples"], str):
                lines = [line for line in block["examples"].splitlines() if line.strip().startswith("- ")]
                block["examples"] = "\n".join(lines[::10]) + "\n"
        (data / "nlu" / path.name).write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
    command = [
        sys.executable,
        "-m",
        "rasa_addons.rasa_cli",
        "train",
        "--quiet",
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
    ]
    command += ["--data", str(data), "--out", str(work), "--fixed-model-name", "mds-degraded"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
    with open(work / "train.log", "w") as log:
        result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=300)
    assert result.returncode == 0, (work / "train.log").read_text()[-3000:]
    return work / "mds-degraded.tar.gz"


@pytest.fixture
def registry_dir(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "releases"
    monkeypatch.setenv("MODEL_RELEASES_DIR", str(directory))
    real = releases.evaluate_model

    def scored_once(model: Path):
        key = releases.model_info(model)["model_id"]
        if key not in _SCORES:
            _SCORES[key] = real(model)
        return _SCORES[key]

    monkeypatch.setattr(releases, "evaluate_model", scored_once)
    return directory


def snapshot(directory: Path):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_first_training_goes_into_service_and_is_served(registry_dir, trained, capsys):
    assert releases.model_to_serve() == trained  # no release yet: the model of the current data
    assert releases.adopt_first(trained) is True
    registry = releases.load_registry()
    current = registry["current"]
    assert current["model_id"] == releases.model_info(trained)["model_id"] and current["figures"] is None
    assert registry["previous"] == [] and registry["history"][-1]["action"] == "first"
    served = releases.model_to_serve()
    assert served.parent == registry_dir and served.read_bytes() == trained.read_bytes()
    assert "mis en service" in capsys.readouterr().out
    assert releases.adopt_first(trained) is False  # later trainings are only candidates
    assert releases.load_registry() == registry

    from rasa_addons.rasa_server import model_arguments

    assert model_arguments(["--port", "5005"]) == ["--model", str(served)]
    assert model_arguments(["--model", "other.tar.gz"]) == []
    assert releases.main(["path"]) == 0 and capsys.readouterr().out.strip() == str(served)


def test_promoting_an_equally_good_model_succeeds_and_records_its_figures(registry_dir, trained, twin, capsys):
    releases.adopt_first(trained)
    first = releases.load_registry()["current"]
    assert releases.main(["promote", "--candidate", str(twin)]) == 0
    out = capsys.readouterr().out
    assert "bon fait" in out and "sûr et faux" in out and "Candidat accepté" in out
    registry = releases.load_registry()
    current = registry["current"]
    assert current["model_id"] == releases.model_info(twin)["model_id"]
    assert set(current["figures"]) == {"dev", "real", "blind"}
    for figures in current["figures"].values():
        assert 0 < figures["fact_accuracy"] <= 1 and 0 <= figures["confidently_wrong"] <= 1 and figures["messages"] > 0
    assert current["replaced_figures"] == current["figures"]  # same weights, same answers
    assert current["promoted_at"] and current["margins"] == {"fact_accuracy": 0.01, "confidently_wrong": 0.005}
    assert registry["previous"] == [first]
    assert releases.model_to_serve() == registry_dir / current["file"]
    # Promoting the model already in service changes nothing.
    before = snapshot(registry_dir)
    assert releases.main(["promote", "--candidate", str(twin)]) == 0
    assert "déjà le modèle en service" in capsys.readouterr().out
    assert snapshot(registry_dir) == before
    assert releases.main(["status"]) == 0
    status = capsys.readouterr().out
    assert "En service" in status and "Précédent n° 1" in status and current["file"] in status


def test_a_worse_model_is_refused_and_nothing_changes(registry_dir, trained, degraded, capsys):
    releases.adopt_first(trained)
    before = snapshot(registry_dir)
    assert releases.main(["promote", "--candidate", str(degraded)]) == 1
    out = capsys.readouterr().out
    assert "REFUSÉ" in out and "bon fait" in out
    assert snapshot(registry_dir) == before
    assert releases.model_to_serve().read_bytes() == trained.read_bytes()
    # The margins are the only judge: with margins wide enough, the same candidate passes.
    assert (
        releases.main(["promote", "--candidate", str(degraded), "--margin-accuracy", "1", "--margin-wrong", "1"]) == 0
    )
    assert releases.load_registry()["current"]["model_id"] == releases.model_info(degraded)["model_id"]


def test_rollback_returns_to_the_previous_model_then_fails_clearly(registry_dir, trained, twin, capsys):
    assert releases.main(["rollback"]) == 1  # no release at all
    assert "Aucun modèle précédent" in capsys.readouterr().err
    releases.adopt_first(trained)
    first = releases.load_registry()["current"]
    assert releases.main(["promote", "--candidate", str(twin)]) == 0
    twin_file = registry_dir / releases.load_registry()["current"]["file"]
    assert releases.main(["rollback"]) == 0
    registry = releases.load_registry()
    assert registry["current"] == first and registry["previous"] == []
    assert registry["history"][-1]["action"] == "rollback"
    assert releases.model_to_serve() == registry_dir / first["file"]
    assert not twin_file.exists(), "a model no release refers to is removed"
    capsys.readouterr()
    before = snapshot(registry_dir)
    assert releases.main(["rollback"]) == 1
    assert "Aucun modèle précédent : rien à restaurer" in capsys.readouterr().err
    assert snapshot(registry_dir) == before


def test_the_registry_is_written_whole_or_not_at_all(registry_dir, monkeypatch):
    releases.write_registry({"current": None, "previous": [], "history": ["old"]})
    before = releases.registry_path().read_bytes()

    def interrupted(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(releases.os, "replace", interrupted)
    with pytest.raises(OSError):
        releases.write_registry({"current": None, "previous": [], "history": ["new"] * 1000})
    assert releases.registry_path().read_bytes() == before
    assert [p.name for p in registry_dir.iterdir() if p.name != ".lock"] == [releases.REGISTRY], "no temporary left"


def test_the_gate_uses_the_margins_on_every_set(monkeypatch):
    import settings

    base = {name: {"fact_accuracy": 0.80, "confidently_wrong": 0.02, "messages": 100} for name in releases.GATE_SETS}
    same = json.loads(json.dumps(base))
    assert releases.compare(base, same, 0.01, 0.005) == []
    at_margin = json.loads(json.dumps(base))
    at_margin["blind"].update(fact_accuracy=0.79, confidently_wrong=0.025)
    assert releases.compare(base, at_margin, 0.01, 0.005) == []
    worse = json.loads(json.dumps(base))
    worse["real"]["fact_accuracy"] = 0.78
    worse["dev"]["confidently_wrong"] = 0.03
    reasons = releases.compare(base, worse, 0.01, 0.005)
    assert len(reasons) == 2 and any("real" in r and "bon fait" in r for r in reasons)
    assert any("dev" in r and "sûr et faux" in r for r in reasons)
    monkeypatch.setenv("MODEL_PROMOTION_MARGIN_ACCURACY", "0.05")
    monkeypatch.setenv("MODEL_PROMOTION_MARGIN_WRONG", "0.02")
    assert settings.model_promotion_margins() == (0.05, 0.02)


def test_post_model_reloads_the_release_in_service_with_the_token(registry_dir, trained):
    from rasa.core.agent import Agent
    from rasa.server import ErrorResponse

    from rasa_addons.rasa_server import reload_route

    releases.adopt_first(trained)
    routes = {}
    app = SimpleNamespace(ctx=SimpleNamespace(agent=Agent()), config={})
    app.add_route = lambda handler, uri, methods, name: routes.update({(uri, tuple(methods)): handler})
    reload_route(app, "secret-token", None)
    handler = routes[("/model", ("POST",))]
    lock_store = app.ctx.agent.lock_store
    with pytest.raises(ErrorResponse):
        asyncio.run(handler(SimpleNamespace(args={"token": "wrong"}, app=app)))
    answer = asyncio.run(handler(SimpleNamespace(args={"token": "secret-token"}, app=app)))
    expected = releases.load_registry()["current"]
    assert json.loads(answer.body) == {"model": expected["file"], "model_id": expected["model_id"]}
    assert app.ctx.agent.model_id == expected["model_id"] and app.ctx.agent.lock_store is lock_store


def test_post_model_lives_beside_rasas_own_model_routes():
    import rasa.server

    from rasa_addons.rasa_server import reload_route

    app = rasa.server.create_app(auth_token="secret-token")
    reload_route(app, "secret-token", None)
    app.router.finalize()
    methods = {method for route in app.router.routes if route.path == "model" for method in route.methods}
    assert {"POST", "PUT", "DELETE"} <= methods
