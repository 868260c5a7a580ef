"""Trained models named by a fingerprint of everything that shapes them.

`make train` trains only when no model matches the current fingerprint, and keeps a
copy in a cache outside the checkout (``MODEL_CACHE_DIR``) so that a fresh clone of the
same data and configuration does not retrain. The fingerprint covers the configuration,
the domain, all training data (including the data generated from the facts) and the
locked dependencies, so a change to any of them trains a new model.

The model trained here is a candidate: the servers load the release in service
(training.releases, `make promote`), except on a machine with no release yet, where the first
`make train` puts its model in service. The tests use the model of the current data.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, List, Optional

import settings
from settings import PROJECT_ROOT

MODELS_DIR = PROJECT_ROOT / "models"
PREFIX = "mds-"


# Locked packages whose version can change what a trained model is or how it loads.
TRAINING_PACKAGES = (
    "rasa",
    "rasa-sdk",
    "spacy",
    "thinc",
    "fr-core-news-md",
    "fr_core_news_md",
    "tensorflow",
    "tensorflow-text",
    "numpy",
    "scikit-learn",
    "scipy",
)


# How training runs, beyond its files: part of the fingerprint, so that a change retrains.
TRAINING_SETTINGS = "TF_DETERMINISTIC_OPS=1"


def fingerprint_inputs(root: Path = PROJECT_ROOT) -> List[Path]:
    return [root / "config.yml", root / "domain.yml"] + sorted((root / "data").rglob("*.yml"))


def training_requirements(root: Path = PROJECT_ROOT) -> str:
    lines = (root / "requirements.txt").read_text().splitlines()
    return "\n".join(line for line in lines if line.split("==")[0].strip().lower() in TRAINING_PACKAGES)


def fingerprint(files: Optional[Iterable[Path]] = None, root: Path = PROJECT_ROOT) -> str:
    digest = hashlib.sha256(training_requirements(root).encode())
    digest.update(TRAINING_SETTINGS.encode())
    for path in files if files is not None else fingerprint_inputs(root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    return settings.model_cache_dir()


def current_model_path() -> Path:
    return MODELS_DIR / f"{PREFIX}{fingerprint()}.tar.gz"


def metadata_path(model: Path) -> Path:
    """Facts about a trained model (training time), kept beside it."""
    return model.with_name(model.name[: -len(".tar.gz")] + ".json")


def ensure_model(log_file: Path) -> Path:
    """Return the model for the current inputs, training it only when needed."""
    target = current_model_path()
    if target.exists():
        print(f"Model up to date: {target.relative_to(PROJECT_ROOT)}")
        return target
    MODELS_DIR.mkdir(exist_ok=True)
    cached = cache_dir() / target.name
    if cached.exists():
        shutil.copy2(cached, target)
        if metadata_path(cached).exists():
            shutil.copy2(metadata_path(cached), metadata_path(target))
        print(f"Model restored from cache: {cached}")
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        print(f"Training {target.name} (log: {log_file.relative_to(PROJECT_ROOT)}) ...", flush=True)
        started = time.monotonic()
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
            "--data",
            "data",
            "--out",
            str(MODELS_DIR),
            "--fixed-model-name",
            target.name[: -len(".tar.gz")],
        ]
        # Deterministic TensorFlow kernels: with Rasa's random_seed, two trainings on the same
        # kind of machine give the same model (docs/benchmarks.md, « Stabilité de l'entraînement »).
        env = {**os.environ, "TF_DETERMINISTIC_OPS": "1"}
        with open(log_file, "w") as log:
            result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        if result.returncode != 0 or not target.exists():
            tail = log_file.read_text(errors="replace").splitlines()[-40:]
            print("\n".join(tail), file=sys.stderr)
            raise SystemExit(f"Training failed (exit {result.returncode}); full log: {log_file}")
        seconds = time.monotonic() - started
        print(f"Trained in {seconds:.0f} s")
        metadata_path(target).write_text(json.dumps({"train_seconds": round(seconds, 1)}))
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target, cached)
        shutil.copy2(metadata_path(target), metadata_path(cached))
    for old in MODELS_DIR.glob(f"{PREFIX}*"):
        if old not in (target, metadata_path(target)):
            old.unlink()
    return target


def main(argv: List[str]) -> int:
    if argv[1:] == ["path"]:
        print(current_model_path())
        return 0
    model = ensure_model(PROJECT_ROOT / "var" / "logs" / "train.log")
    # The first model of a machine goes into service; later ones are candidates (make promote).
    from training.releases import adopt_first

    adopt_first(model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
