"""Console list and filter pages over 100,000 conversations in PostgreSQL (`make bench-console`).

Seeds a throw-away PostgreSQL database with synthetic conversations shaped like the
ones Rasa stores (masked texts, slot events, fallbacks, forms), then times the console's
pages through its HTTP interface. Writes docs/benchmarks-console.md.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import statistics
import time

import sqlalchemy as sa

from devtools.console_client import logged_in_client
from devtools.databases import fresh_postgres_database
from settings import PROJECT_ROOT
from training.facts import REQUIRED_FACT_IDS

CONVERSATIONS = int(os.environ.get("BENCH_CONVERSATIONS", "100000"))
REPORT = PROJECT_ROOT / "docs" / "benchmarks-console.md"


def seed(url: str, conversations: int) -> int:
    """Bulk-load synthetic conversations with PostgreSQL's COPY; return the number of events."""
    from rasa.core.tracker_store import SQLTrackerStore

    engine = sa.create_engine(url)
    SQLTrackerStore.Base.metadata.create_all(engine)
    rng = random.Random(42)
    now = time.time()
    buffer = io.StringIO()
    count = 0
    for i in range(conversations):
        sender = f"bench-{i:06d}"
        ts = now - rng.uniform(0, 90 * 86400)
        events = [("action", None, "action_listen", {"event": "action", "name": "action_listen"})]
        for turn in range(rng.randint(1, 4)):
            fact = rng.choice(REQUIRED_FACT_IDS)
            confidence = rng.random()
            events.append(
                (
                    "user",
                    "faq",
                    None,
                    {
                        "event": "user",
                        "text": f"question {turn} sur {fact}",
                        "parse_data": {"intent": {"name": "faq", "confidence": confidence}},
                    },
                )
            )
            if confidence < 0.3:
                events.append(
                    (
                        "bot",
                        None,
                        None,
                        {
                            "event": "bot",
                            "text": "Je ne suis pas sûr",
                            "data": {"custom": {"fallback": "low_confidence"}},
                        },
                    )
                )
            else:
                events.append(("slot", None, None, {"event": "slot", "name": "last_fact_id", "value": fact}))
                events.append(
                    ("bot", None, None, {"event": "bot", "text": "réponse", "data": {"custom": {"fact_id": fact}}})
                )
        if rng.random() < 0.05:
            events.append(("action", None, "erasure_request_form", {"event": "action", "name": "erasure_request_form"}))
        for offset, (kind, intent, action, data) in enumerate(events):
            data["timestamp"] = ts + offset
            row = [
                sender,
                kind,
                repr(ts + offset),
                intent or "\\N",
                action or "\\N",
                json.dumps(data).replace("\\", "\\\\").replace("\t", " "),
            ]
            buffer.write("\t".join(row) + "\n")
            count += 1
    buffer.seek(0)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.copy_expert(
                "COPY events (sender_id, type_name, timestamp, intent_name, action_name, data) FROM STDIN", buffer
            )
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as connection:
        connection.execute(sa.text("ANALYZE events"))
    return count


def timed(client, path: str, repeat: int = 3) -> float:
    durations = []
    for _ in range(repeat):
        started = time.monotonic()
        response = client.get(path)
        durations.append(time.monotonic() - started)
        assert response.status_code == 200, path
    return statistics.median(durations) * 1000


def main() -> int:
    with fresh_postgres_database() as tracker_url, fresh_postgres_database() as app_url:
        started = time.monotonic()
        events = seed(tracker_url, CONVERSATIONS)
        seeded = time.monotonic() - started
        client = logged_in_client(tracker_url, app_url)
        first = client.get("/console/conversations").get_data(as_text=True)
        cursor = first.split("apres=")[1].split('"')[0].replace("&amp;", "&") if "apres=" in first else ""
        pages = {
            "liste, première page": "/console/conversations",
            "liste, page suivante (curseur)": f"/console/conversations?apres={cursor}",
            "replis seulement": "/console/conversations?repli=1",
            "un fait (fait=cloud_act)": "/console/conversations?fait=cloud_act",
            "demande commencée": "/console/conversations?demande=1",
            "confiance < 0,2": "/console/conversations?confiance_max=0.2",
            "recherche de texte": "/console/conversations?q=cloud",
            "période de 7 jours": f"/console/conversations?du={(dt.date.today() - dt.timedelta(days=7)).isoformat()}",
            "tableau de bord (30 jours)": "/console/tableau-de-bord",
        }
        rows = [(name, timed(client, path)) for name, path in pages.items()]
    lines = [
        f"# Console : temps de réponse sur {CONVERSATIONS:,} conversations".replace(",", " "),
        "",
        f"Généré par `make bench-console` le {dt.date.today().isoformat()} : {CONVERSATIONS} conversations "
        f"synthétiques ({events} événements) chargées dans PostgreSQL local en {seeded:.0f} s, pages servies par "
        "l'application web (client de test Flask, médiane de 3 appels, sans cache).",
        "",
        "| page | temps (ms) |",
        "|---|---:|",
    ] + [f"| {name} | {ms:.0f} |" for name, ms in rows]
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
