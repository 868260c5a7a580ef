"""Where the Rasa server spends its time under load: py-spy samples, grouped by component.

The full stack (Rasa server + action server + SQL tracker store) takes concurrent REST
conversations while py-spy samples the Rasa server's Python stacks. Each sample is
attributed to the innermost frame that belongs to a known component (spaCy, TensorFlow,
the featurizers, the tracker store, ...); frames of generic libraries (numpy, asyncio)
are skipped so that their time counts for the component that called them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

# (label, path fragments); the first component found walking from the leaf frame wins.
COMPONENTS: List[Tuple[str, Tuple[str, ...]]] = [
    (
        "classifieur de questions (TF-IDF + classifieur linéaire)",
        ("rasa_addons/question_classifier", "/sklearn/", "/scipy/"),
    ),
    ("spaCy (analyse du texte)", ("/spacy/", "/thinc/", "/spacy_", "rasa/nlu/utils/spacy_utils")),
    ("TensorFlow (DIET et ResponseSelector)", ("/tensorflow/", "/keras/", "rasa/utils/tensorflow")),
    ("classifieurs Rasa hors TensorFlow", ("rasa/nlu/classifiers", "rasa/nlu/selectors")),
    ("featurizers creux (CountVectors, lexical, regex)", ("rasa/nlu/featurizers",)),
    ("tokenizers", ("rasa/nlu/tokenizers",)),
    (
        "tracker store SQL et masquage",
        ("rasa/core/tracker_store", "rasa_addons/tracker_store", "privacy/masking", "/sqlalchemy/", "sqlite3"),
    ),
    ("appel au serveur d'actions", ("rasa/core/actions/action.py", "rasa/utils/endpoints", "/aiohttp/")),
    ("politiques de dialogue", ("rasa/core/policies", "rasa/core/featurizers")),
    (
        "événements et tracker (Rasa)",
        ("rasa/shared/core/trackers", "rasa/shared/core/events", "rasa/shared/core/domain"),
    ),
    (
        "canal, garde des messages, Sanic",
        ("rasa_addons/channels", "rasa_addons/message_guard", "/sanic/", "rasa/core/channels"),
    ),
    ("graphe et processeur Rasa", ("rasa/engine", "rasa/core/processor", "rasa/core/agent", "rasa/core/lock")),
]
OTHER = "autre (boucle asyncio, journalisation, ...)"


@dataclass
class Profile:
    samples: int
    seconds: float
    by_component: List[Tuple[str, int]]
    top_functions: List[Tuple[str, int]]
    messages: int
    raw: Path


def component_of(frames: List[str]) -> str:
    """frames: root first, leaf last, as in py-spy's collapsed format."""
    for frame in reversed(frames):
        for label, fragments in COMPONENTS:
            if any(f in frame for f in fragments):
                return label
    return OTHER


def parse_collapsed(path: Path) -> Tuple[Counter, Counter, int]:
    components: Counter = Counter()
    leaves: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        n = int(count)
        total += n
        components[component_of(frames)] += n
        leaves[frames[-1]] += n
    return components, leaves, total


def py_spy() -> Optional[str]:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def run(workdir: Path, seconds: float = 30.0, concurrency: int = 10) -> Profile:
    from bench.serving import concurrent
    from devtools.servers import ActionServer, RasaServer

    binary = py_spy()
    if not binary:
        raise RuntimeError("py-spy is not installed (it is in requirements-dev.txt: run `make install`)")
    workdir.mkdir(parents=True, exist_ok=True)
    env = {"RATE_LIMIT_PER_MINUTE": "0", "DATABASE_URL": f"sqlite:///{workdir / 'app.db'}"}
    action_server = ActionServer(workdir, env=env).start()
    rasa = RasaServer(
        workdir, action_url=action_server.url, tracker_store_url=f"sqlite:///{workdir / 'conversations.db'}", env=env
    )
    raw = workdir / "rasa-under-load.txt"
    try:
        rasa.start()
        concurrent(rasa.url, 2, 5.0)  # warm-up: first TensorFlow calls build their graphs
        result: Dict = {}
        loader = threading.Thread(target=lambda: result.update(load=concurrent(rasa.url, concurrency, seconds + 2)))
        loader.start()
        subprocess.run(
            [
                binary,
                "record",
                "--pid",
                str(rasa.process.pid),
                "--duration",
                str(int(seconds)),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(raw),
                "--nonblocking",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        loader.join()
    finally:
        rasa.stop()
        action_server.stop()
    components, leaves, total = parse_collapsed(raw)
    return Profile(total, seconds, components.most_common(), leaves.most_common(12), result["load"].messages, raw)


if __name__ == "__main__":
    from settings import PROJECT_ROOT

    profile = run(PROJECT_ROOT / "var" / "bench" / "profile")
    for label, n in profile.by_component:
        print(f"{n / profile.samples:6.1%}  {label}")
    print("--- leaf functions")
    for frame, n in profile.top_functions:
        print(f"{n / profile.samples:6.1%}  {frame}")
