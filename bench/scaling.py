"""How cost grows with work: stored conversations, and the number of facts.

1. Tracker store size. The full stack (Rasa server + action server + SQLite tracker store)
   is measured on an empty store, then on stores holding 1,000, 10,000 and 100,000
   conversations. The stored conversations are copies of real ones recorded by the first
   measurement (same events, new sender ids), so Rasa reads back what it wrote itself.
2. Number of facts. The project's NLU data is trained as it is (31 facts) and with the facts
   doubled: every fact gets a synthetic twin about a fictitious school-data service, whose
   questions are the fact's questions with the health vocabulary swapped. Twins are hard to
   tell from their originals, which is the point: the selector must keep them apart.
   Training time, model size, parse latency and resident memory are measured for both.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple

import requests
import yaml

from settings import PROJECT_ROOT

SIZES = tuple(int(n) for n in os.environ.get("BENCH_STORE_SIZES", "0,1000,10000,100000").split(","))
QUESTIONS_PER_SIZE = 120


# --- 1. tracker store size --------------------------------------------------------------
@dataclass
class StoreSize:
    conversations: int
    events: int
    file_mb: float
    startup_s: float
    new_ms: List[float] = field(default_factory=list)
    returning_ms: List[float] = field(default_factory=list)
    rss_mb: float = 0.0


def p(values: List[float], q: float) -> float:
    from bench.serving import percentile

    return percentile(values, q)


def copy_conversations(db: Path, template: List[Tuple], start: int, count: int) -> None:
    """Append `count` copies of the template conversation under new sender ids."""
    connection = sqlite3.connect(db)
    base = min(row[2] for row in template)
    now = time.time()
    rows = []
    with connection:
        for i in range(start, start + count):
            sender = f"stored-{i:06d}"
            shift = now - 86400 * 60 + i  # spread over two months, distinct per conversation
            for _sender_id, type_name, timestamp, intent, action, data in template:
                event = json.loads(data)
                event["timestamp"] = timestamp - base + shift
                rows.append((sender, type_name, event["timestamp"], intent, action, json.dumps(event)))
            if len(rows) >= 50_000:
                connection.executemany(
                    "INSERT INTO events (sender_id, type_name, timestamp, intent_name, "
                    "action_name, data) VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
                rows = []
        if rows:
            connection.executemany(
                "INSERT INTO events (sender_id, type_name, timestamp, intent_name, "
                "action_name, data) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
    connection.close()


def measure_store(url: str, stored: int) -> Tuple[List[float], List[float]]:
    """Half the messages open new conversations, half continue stored ones."""
    from bench.serving import QUESTIONS, say

    session = requests.Session()
    new, returning = [], []
    for i in range(QUESTIONS_PER_SIZE):
        text = QUESTIONS[i % len(QUESTIONS)]
        if i % 2 or not stored:
            sender, bucket = f"new-{uuid.uuid4().hex[:10]}", new
        else:
            sender, bucket = f"stored-{(i * 7919) % stored:06d}", returning
        started = time.monotonic()
        if not say(session, url, sender, text):
            raise RuntimeError(f"no answer to {text!r} with {stored} stored conversations")
        bucket.append((time.monotonic() - started) * 1000)
    return new, returning


def tracker_store_scaling(workdir: Path) -> List[StoreSize]:
    from bench.serving import rss_mb, time_to_first_answer
    from devtools.servers import ActionServer, RasaServer

    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "conversations.db"
    db.unlink(missing_ok=True)
    env = {"RATE_LIMIT_PER_MINUTE": "0", "DATABASE_URL": f"sqlite:///{workdir / 'app.db'}"}
    action_server = ActionServer(workdir, env=env).start()
    results: List[StoreSize] = []
    results_by_length: Dict[str, Dict[int, List[float]]] = {}
    template: List[Tuple] = []
    stored = 0
    try:
        for size in SIZES:
            if size:
                copy_conversations(db, template, stored, size - stored)
                stored = size
            events = 0
            if db.exists():
                with sqlite3.connect(db) as connection:
                    events = connection.execute("SELECT count(*) FROM events").fetchone()[0]
            server = RasaServer(workdir, action_url=action_server.url, tracker_store_url=f"sqlite:///{db}", env=env)
            print(f"scaling: tracker store with {size} conversations ({events} events)", flush=True)
            startup = time_to_first_answer(server)
            try:
                new, returning = measure_store(server.url, stored)
                result = StoreSize(
                    size, events, db.stat().st_size / 1e6, startup, new, returning, rss_mb(server.process.pid)
                )
                results.append(result)
                if not template:
                    template = record_template(server.url, db)
                    results_by_length["window"] = conversation_length(server.url)
            finally:
                server.stop()
        # The same conversation with Rasa's sessions as they are (one session while the citizen
        # writes within the hour), in the same run: the baseline of rasa_addons.session_window.
        print("scaling: one long conversation without SESSION_MAX_MESSAGES", flush=True)
        server = RasaServer(
            workdir,
            action_url=action_server.url,
            tracker_store_url=f"sqlite:///{workdir / 'conversations-rasa-sessions.db'}",
            env={**env, "SESSION_MAX_MESSAGES": "0"},
        )
        time_to_first_answer(server)
        try:
            results_by_length["rasa"] = conversation_length(server.url)
        finally:
            server.stop()
    finally:
        action_server.stop()
    return results, results_by_length


LONG_CONVERSATION = 200
LENGTH_WINDOWS = (1, 50, 100, 190)  # latency of messages n..n+9 of one conversation


def conversation_length(url: str) -> Dict[int, List[float]]:
    """Latency as one conversation grows: Rasa re-reads the session's events every turn."""
    from bench.serving import growing_conversation

    latencies = growing_conversation(url, LONG_CONVERSATION)
    return {start: latencies[start - 1 : start + 9] for start in LENGTH_WINDOWS}


def record_template(url: str, db: Path) -> List[Tuple]:
    """One real conversation of every benchmark question, as Rasa stored it."""
    from bench.serving import QUESTIONS, say

    sender = f"template-{uuid.uuid4().hex[:8]}"
    session = requests.Session()
    for text in QUESTIONS:
        say(session, url, sender, text)
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT sender_id, type_name, timestamp, intent_name, action_name, data "
            "FROM events WHERE sender_id = ? ORDER BY id",
            (sender,),
        ).fetchall()


# --- 2. number of facts -------------------------------------------------------------------
# Health vocabulary -> the vocabulary of a fictitious school-data service. Longest first.
SWAPS = [
    ("Health Data Hub", "Education Data Hub"),
    ("Plateforme des données de santé", "Plateforme des données scolaires"),
    ("Assurance maladie", "Éducation nationale"),
    ("assurance maladie", "éducation nationale"),
    ("SNDS", "SNDE"),
    ("HDH", "EDH"),
    ("santé", "scolarité"),
    ("Santé", "Scolarité"),
    ("médicales", "scolaires"),
    ("médicaux", "scolaires"),
    ("médicale", "scolaire"),
    ("médical", "scolaire"),
    ("remboursements", "bulletins"),
    ("remboursement", "bulletin"),
    ("hôpitaux", "lycées"),
    ("hôpital", "lycée"),
    ("patients", "élèves"),
    ("patient", "élève"),
    ("médecins", "professeurs"),
    ("médecin", "professeur"),
    ("soins", "cours"),
    ("maladies", "matières"),
    ("maladie", "matière"),
    ("CNAM", "DEPP"),
    ("Cnam", "Depp"),
]


def swap(text: str) -> str:
    for old, new in SWAPS:
        text = re.sub(rf"\b{re.escape(old)}\b", new, text)
    return text


def doubled_facts_data(source: Path, target: Path) -> int:
    """Write the NLU data with a synthetic twin for every fact; return the number of facts."""
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob("*.yml"):
        if path.name != "facts.yml":
            target.joinpath(path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    document = yaml.safe_load((source / "facts.yml").read_text(encoding="utf-8"))
    blocks, responses = list(document["nlu"]), dict(document["responses"])
    for block in document["nlu"]:
        fact = block["intent"].split("/", 1)[1]
        lines = [line for line in block["examples"].splitlines() if line.strip().startswith("- ")]
        twins = [swap(line) for line in lines]
        twins = [t for t, line in zip(twins, lines, strict=False) if t != line]
        blocks.append({"intent": f"faq/{fact}_scolaire", "examples": "\n".join(twins) + "\n"})
        responses[f"utter_faq/{fact}_scolaire"] = [
            {"text": swap(responses[f"utter_faq/{fact}"][0]["text"]) + " (scolaire)"}
        ]
    document.update(nlu=blocks, responses=responses)
    target.joinpath("facts.yml").write_text(
        yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return sum(1 for b in blocks if b["intent"].startswith("faq/"))


@dataclass
class FactsSize:
    facts: int
    examples: int
    train_s: float
    model_mb: float
    parse_p50_ms: float
    parse_p95_ms: float
    rss_mb: float
    heldout_fact_accuracy: float


def parse_cost(model: Path) -> Dict:
    """In a fresh process: load the model, parse the held-out questions, report latency and memory."""
    code = (
        "import json, sys, time, resource\n"
        "from training.thresholds import in_process_parser\n"
        "from training.evaluation import Understanding, load_examples\n"
        "from bench.quality import HELDOUT\n"
        "parse = in_process_parser(sys.argv[1])\n"
        "examples = load_examples(HELDOUT)\n"
        "for e in examples[:10]: parse(e.text)\n"
        "latencies, right, facts = [], 0, 0\n"
        "for e in examples:\n"
        "    t0 = time.monotonic(); result = parse(e.text); latencies.append((time.monotonic() - t0) * 1000)\n"
        "    if e.intent.startswith('faq/'):\n"
        "        facts += 1; u = Understanding.from_parse(result)\n"
        "        right += u.intent == 'faq' and 'faq/' + str(u.fact_id) == e.intent\n"
        "rss = int([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]) / 1024\n"
        "print(json.dumps({'latencies': latencies, 'rss_mb': rss, 'accuracy': right / facts}))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code, str(model)], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def facts_scaling(workdir: Path) -> List[FactsSize]:
    from bench.quality import train_nlu
    from training.evaluation import load_examples

    workdir.mkdir(parents=True, exist_ok=True)
    source = PROJECT_ROOT / "data" / "nlu"
    doubled = workdir / "nlu-doubled"
    doubled_facts_data(source, doubled)
    results = []
    for name, data in (("facts-x1", source), ("facts-x2", doubled)):
        print(f"scaling: training NLU on {name}", flush=True)
        examples = [e for e in load_examples(data / "facts.yml")]
        model, seconds = train_nlu(PROJECT_ROOT / "config.yml", data, workdir, name, workdir / f"{name}.log")
        cost = parse_cost(model)
        results.append(
            FactsSize(
                facts=len({e.intent for e in examples}),
                examples=len(examples),
                train_s=seconds,
                model_mb=model.stat().st_size / 1e6,
                parse_p50_ms=statistics.median(cost["latencies"]),
                parse_p95_ms=p(cost["latencies"], 95),
                rss_mb=cost["rss_mb"],
                heldout_fact_accuracy=cost["accuracy"],
            )
        )
    return results


def run(workdir: Path, with_facts: bool = True) -> Dict:
    stores, by_length = tracker_store_scaling(workdir / "stores")
    results = {"stores": stores, "conversation_length": by_length}
    if with_facts:
        results["facts"] = facts_scaling(workdir / "facts")
    return results


if __name__ == "__main__":
    out = run(PROJECT_ROOT / "var" / "bench" / "scaling", with_facts="--facts" in sys.argv)
    for s in out["stores"]:
        print(
            s.conversations,
            s.events,
            f"{s.file_mb:.0f} MB",
            f"start {s.startup_s:.1f}s",
            f"new p50 {p(s.new_ms, 50):.0f} p95 {p(s.new_ms, 95):.0f}",
            f"returning p50 {p(s.returning_ms, 50) if s.returning_ms else 0:.0f}",
            f"rss {s.rss_mb:.0f}",
        )
    for f in out.get("facts", []):
        print(f)
