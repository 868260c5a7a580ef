"""Serving speed and cost of the real stack, against a plain Rasa assistant, in one run.

Every server runs on this machine's loopback; each load level is bounded in time.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

import requests

from devtools.servers import ActionServer, RasaServer, base_env, wait_until_up
from settings import PROJECT_ROOT

QUESTIONS = [
    "Bonjour",
    "Qu'est-ce que le SNDS ?",
    "qui heberge les donnees de sante ?",
    "Combien de temps mes données sont-elles conservées ?",
    "c'est quoi le cloud act",
    "Quels sont mes droits ?",
    "Mes données sont-elles anonymes ?",
    "Comment porter plainte auprès de la CNIL ?",
    "merci",
]


def percentile(values: List[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MiB."""
    total = 0
    pids = [pid]
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


@dataclass
class Load:
    concurrency: int
    messages: int
    seconds: float
    latencies: List[float] = field(default_factory=list)
    errors: int = 0

    @property
    def throughput(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


# Messages per conversation before the load generator starts a new one: a long citizen
# conversation. Without it, the same few conversations would grow to hundreds of turns during
# a load level, and every turn would re-read all of them from the tracker store.
CONVERSATION_LENGTH = 20


def say(session: requests.Session, url: str, sender: str, text: str) -> bool:
    response = session.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120)
    return response.status_code == 200 and bool(response.json())


def real_question_texts() -> List[str]:
    """The frozen real-questions test set's texts (tests/nlu/real.yml): longer, as citizens write."""
    from training.evaluation import load_examples

    return [e.text for e in load_examples(PROJECT_ROOT / "tests" / "nlu" / "real.yml")]


def sequential(url: str, count: int = 150, texts: List[str] = QUESTIONS) -> Load:
    session = requests.Session()
    run = uuid.uuid4().hex[:8]
    load = Load(1, 0, 0.0)
    started = time.monotonic()
    for i in range(count):
        t0 = time.monotonic()
        ok = say(session, url, f"seq-{run}-{i // CONVERSATION_LENGTH}", texts[i % len(texts)])
        load.latencies.append(time.monotonic() - t0)
        load.messages += 1
        load.errors += not ok
    load.seconds = time.monotonic() - started
    return load


def concurrent(url: str, concurrency: int, duration: float = 15.0, texts: List[str] = QUESTIONS) -> Load:
    load = Load(concurrency, 0, 0.0)
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def worker(index: int) -> None:
        session = requests.Session()
        run = f"load-{concurrency}-{index}-{uuid.uuid4().hex[:6]}"
        i = 0
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                ok = say(session, url, f"{run}-{i // CONVERSATION_LENGTH}", texts[(i + index) % len(texts)])
            except requests.RequestException:
                ok = False
            elapsed = time.monotonic() - t0
            with lock:
                load.latencies.append(elapsed)
                load.messages += 1
                load.errors += not ok
            i += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load.seconds = time.monotonic() - started
    return load


def wait_for_all_workers(log: Path, count: int, timeout: float = 180) -> None:
    """The server answers as soon as one Sanic worker is up; the others load the model for a
    while longer, and a load measured meanwhile is that of fewer workers."""
    deadline = time.monotonic() + timeout
    while log.read_text(errors="replace").count("up and running") < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} workers up after {timeout:.0f} s")
        time.sleep(0.5)


def time_to_first_answer(server: RasaServer) -> float:
    started = time.monotonic()
    server.start()
    while True:
        try:
            if say(requests.Session(), server.url, "startup", "Bonjour"):
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.2)


def train_plain_bot(workdir: Path) -> Path:
    bot = PROJECT_ROOT / "bench" / "plain_bot"
    command = [
        sys.executable,
        "-m",
        "rasa",
        "train",
        "--quiet",
        "--config",
        str(bot / "config.yml"),
        "--domain",
        str(bot / "domain.yml"),
        "--data",
        str(bot / "data"),
        "--out",
        str(workdir),
        "--fixed-model-name",
        "plain",
    ]
    with open(workdir / "plain-train.log", "w") as log:
        subprocess.run(command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, check=True, env=base_env())
    return workdir / "plain.tar.gz"


class PlainServer(RasaServer):
    """A Rasa server for the plain bot: its own endpoints (in-memory tracker) and REST only."""

    def start(self) -> "PlainServer":
        bot = PROJECT_ROOT / "bench" / "plain_bot"
        log = self.workdir / f"plain-{self.port}.log"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rasa",
                "run",
                "--model",
                str(self.model),
                "--port",
                str(self.port),
                "--endpoints",
                str(bot / "endpoints.yml"),
                "--credentials",
                str(bot / "credentials.yml"),
            ],
            cwd=PROJECT_ROOT,
            env=base_env(self.env),
            stdout=open(log, "a"),
            stderr=subprocess.STDOUT,
        )
        wait_until_up(f"{self.url}/", self.process, log)
        return self


def measure(
    server_url: str, levels=(1, 10, 50), duration: float = 15.0, texts: List[str] = QUESTIONS
) -> Dict[int, Load]:
    return {c: concurrent(server_url, c, duration, texts) for c in levels}


def measure_real_questions(server_url: str, duration: float) -> Dict:
    """The same stack on the real questions' texts: sequential, then 10 conversations."""
    texts = real_question_texts()
    return {
        "sequential": sequential(server_url, len(texts), texts),
        "levels": measure(server_url, (10,), duration, texts),
    }


def run(workdir: Path, duration: float = 15.0) -> Dict:
    workdir.mkdir(parents=True, exist_ok=True)
    results: Dict = {}
    env = {"RATE_LIMIT_PER_MINUTE": "0", "DATABASE_URL": f"sqlite:///{workdir / 'app.db'}"}

    print("serving: full stack (Rasa + action server + SQL tracker store)", flush=True)
    action_server = ActionServer(workdir, env=env).start()
    full = RasaServer(
        workdir, action_url=action_server.url, tracker_store_url=f"sqlite:///{workdir / 'conversations.db'}", env=env
    )
    results["full_startup_s"] = time_to_first_answer(full)
    try:
        results["full_sequential"] = sequential(full.url)
        results["full_levels"] = measure(full.url, duration=duration)
        results["full_real"] = measure_real_questions(full.url, duration)
        results["full_rss_mb"] = rss_mb(full.process.pid)
        results["actions_rss_mb"] = rss_mb(action_server.process.pid)
    finally:
        full.stop()

    print("serving: full stack with Rasa's hot spots left as they are (RASA_SPEEDUPS=0)", flush=True)
    unpatched = RasaServer(
        workdir,
        action_url=action_server.url,
        tracker_store_url=f"sqlite:///{workdir / 'conversations-unpatched.db'}",
        env={**env, "RASA_SPEEDUPS": "0"},
    )
    try:
        unpatched.start()
        results["unpatched_sequential"] = sequential(unpatched.url)
        results["unpatched_levels"] = measure(unpatched.url, levels=(1, 10), duration=duration)
    finally:
        unpatched.stop()

    print("serving: 2 Sanic workers + Redis lock store", flush=True)
    workers = RasaServer(
        workdir,
        action_url=action_server.url,
        tracker_store_url=f"sqlite:///{workdir / 'conversations2.db'}",
        env={
            **env,
            "SANIC_WORKERS": "2",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "REDIS_LOCK_PREFIX": "bench" + uuid.uuid4().hex[:6],
        },
    )
    try:
        workers.start()
        wait_for_all_workers(workdir / f"rasa-{workers.port}.log", count=2)
        results["workers_levels"] = measure(workers.url, levels=(10, 50), duration=duration)
        results["workers_rss_mb"] = rss_mb(workers.process.pid)
    except Exception as error:  # reported, not hidden
        results["workers_error"] = f"{type(error).__name__}: {error}"[:300]
    finally:
        workers.stop()
        action_server.stop()

    print("serving: plain Rasa assistant (baseline)", flush=True)
    started = time.monotonic()
    plain_model = train_plain_bot(workdir)
    results["plain_train_s"] = time.monotonic() - started
    plain = PlainServer(workdir, action_url="", tracker_store_url="", model=plain_model, env={})
    results["plain_startup_s"] = time_to_first_answer(plain)
    try:
        results["plain_sequential"] = sequential(plain.url)
        results["plain_levels"] = measure(plain.url, duration=duration)
        results["plain_real"] = measure_real_questions(plain.url, duration)
        results["plain_rss_mb"] = rss_mb(plain.process.pid)
    finally:
        plain.stop()
    return results


QUICK_DURATION = 5.0  # seconds per load level in `make bench-quick`
QUICK_LEVELS = (1, 10)
QUICK_SEQUENTIAL = 60
QUICK_CONVERSATION = 60


def cached_plain_bot(workdir: Path) -> Path:
    """The plain bot, retrained only when its files change (its own fingerprint)."""
    import hashlib

    bot = PROJECT_ROOT / "bench" / "plain_bot"
    digest = hashlib.sha256()
    for path in sorted(p for p in bot.rglob("*") if p.is_file()):
        digest.update(path.relative_to(bot).as_posix().encode() + b"\0" + path.read_bytes())
    cached = workdir / f"plain-{digest.hexdigest()[:16]}.tar.gz"
    if not cached.exists():
        train_plain_bot(workdir).rename(cached)
    return cached


def growing_conversation(url: str, count: int) -> List[float]:
    """Latency (ms) of each message of one conversation of `count` messages."""
    session = requests.Session()
    sender = f"grow-{uuid.uuid4().hex[:8]}"
    latencies = []
    for i in range(count):
        started = time.monotonic()
        say(session, url, sender, QUESTIONS[i % len(QUESTIONS)])
        latencies.append((time.monotonic() - started) * 1000)
    return latencies


def run_quick(workdir: Path) -> Dict:
    """A few minutes, before and after a performance change: the full stack against the plain bot
    in the same run (sequential, 1 and 10 conversations, one conversation growing)."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {"RATE_LIMIT_PER_MINUTE": "0", "DATABASE_URL": f"sqlite:///{workdir / 'app.db'}"}
    results: Dict = {}
    action_server = ActionServer(workdir, env=env).start()
    full = RasaServer(
        workdir,
        action_url=action_server.url,
        tracker_store_url=f"sqlite:///{workdir / f'conversations-{uuid.uuid4().hex[:6]}.db'}",
        env=env,
    )
    time_to_first_answer(full)
    try:
        results["full_sequential"] = sequential(full.url, QUICK_SEQUENTIAL)
        results["full_levels"] = measure(full.url, levels=QUICK_LEVELS, duration=QUICK_DURATION)
        results["full_growing"] = growing_conversation(full.url, QUICK_CONVERSATION)
    finally:
        full.stop()
        action_server.stop()
    plain = PlainServer(workdir, action_url="", tracker_store_url="", model=cached_plain_bot(workdir), env={})
    time_to_first_answer(plain)
    try:
        results["plain_sequential"] = sequential(plain.url, QUICK_SEQUENTIAL)
        results["plain_levels"] = measure(plain.url, levels=QUICK_LEVELS, duration=QUICK_DURATION)
        results["plain_growing"] = growing_conversation(plain.url, QUICK_CONVERSATION)
    finally:
        plain.stop()
    return results


def quick_report(results: Dict) -> str:
    """The quick run's figures, as text for the terminal."""
    import statistics

    lines = ["Mesure rapide (make bench-quick) : pile complète contre Rasa simple, même lancement.", ""]
    full, plain = results["full_sequential"], results["plain_sequential"]
    lines.append(f"{'':32s}{'pile complète':>16s}{'Rasa simple':>14s}{'rapport':>10s}")
    for q in (50, 95):
        lines.append(f"{f'séquentiel p{q} (ms)':32s}{full.p(q):16.0f}{plain.p(q):14.0f}{full.p(q) / plain.p(q):9.2f}×")
    for level in QUICK_LEVELS:
        f, p = results["full_levels"][level], results["plain_levels"][level]
        lines.append(
            f"{f'{level} conversation(s) : messages/s':32s}{f.throughput:16.1f}{p.throughput:14.1f}"
            f"{f.throughput / p.throughput:9.2f}×"
        )
    for name in ("full", "plain"):
        grow = results[f"{name}_growing"]
        first, last = statistics.median(grow[:10]), statistics.median(grow[-10:])
        label = "pile complète" if name == "full" else "Rasa simple"
        lines.append(
            f"{label} : une conversation de {len(grow)} messages, p50 des 10 premiers {first:.0f} ms, "
            f"des 10 derniers {last:.0f} ms ({last / first:.2f}×)"
        )
    errors = sum(load.errors for k in ("full_levels", "plain_levels") for load in results[k].values())
    lines.append(f"erreurs : {errors}")
    return "\n".join(lines)
