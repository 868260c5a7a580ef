"""Console list, filter and dashboard pages over 100,000 conversations, on PostgreSQL and SQLite
(`make bench-console`).

For each database: seeds a throw-away tracker store with synthetic conversations shaped like
the ones Rasa stores (masked texts, slot events, fallbacks, « Vouliez-vous dire… ? », forms);
times the console's pages through its HTTP interface with the queries it ran before the
conversation summaries (issue #20: every page aggregated every event, `legacy_list` and
`legacy_dashboard` below); builds the summaries as an upgraded install does on its first start;
times the same pages again and checks that they list the same rows; measures what the summary
adds to a tracker-store save; and records the query plans. Writes docs/benchmarks-console.md.

BENCH_CONVERSATIONS (default 100000) and BENCH_BACKENDS (default "postgresql,sqlite").
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import json
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple
from unittest import mock

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from conversations import log as conversation_log
from conversations.log import (
    FACT_SLOT,
    FORM_ACTION_SUFFIX,
    TABLE,
    ConversationFilters,
    ConversationLog,
    ConversationPage,
    Dashboard,
    ensure_summaries,
    event_json,
)
from devtools.console_client import logged_in_client
from devtools.databases import fresh_postgres_database
from settings import PROJECT_ROOT
from storage.database import engine_for
from storage.schema import conversation_summaries
from training.facts import REQUIRED_FACT_IDS

CONVERSATIONS = int(os.environ.get("BENCH_CONVERSATIONS", "100000"))
BACKENDS = [b for b in os.environ.get("BENCH_BACKENDS", "postgresql,sqlite").split(",") if b]
REPORT = PROJECT_ROOT / "docs" / "benchmarks-console.md"
PAGE_SIZE = 50
DEEP_PAGE = max(2, min(200, CONVERSATIONS // PAGE_SIZE // 2))  # 200 on 100,000 conversations
NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


# --- Synthetic conversations -------------------------------------------------------------------
def synthetic_events(
    conversations: int, now: float
) -> Iterator[Tuple[str, str, float, Optional[str], Optional[str], str]]:
    """(sender_id, type_name, timestamp, intent_name, action_name, data) rows, in storage order."""
    rng = random.Random(42)
    for i in range(conversations):
        sender = f"bench-{i:06d}"
        ts = now - rng.uniform(0, 90 * 86400)
        events = [("action", None, "action_listen", {"event": "action", "name": "action_listen"})]
        for turn in range(rng.randint(1, 4)):
            fact = rng.choice(REQUIRED_FACT_IDS)
            confidence = rng.random()
            user = {
                "event": "user",
                "text": f"question {turn} sur {fact}",
                "parse_data": {"intent": {"name": "faq", "confidence": confidence}},
            }
            events.append(("user", "faq", None, user))
            if confidence < 0.3:
                fallback = {"fallback": "low_confidence"}
                events.append(
                    ("bot", None, None, {"event": "bot", "text": "Je ne suis pas sûr", "data": {"custom": fallback}})
                )
            elif confidence < 0.32:  # « Vouliez-vous dire… ? »
                asked = {"fallback": "ambiguous", "candidates": [fact, "right_erasure"]}
                events.append(
                    ("bot", None, None, {"event": "bot", "text": "Vouliez-vous dire :", "data": {"custom": asked}})
                )
            else:
                events.append(("slot", None, None, {"event": "slot", "name": FACT_SLOT, "value": fact}))
                events.append(
                    ("bot", None, None, {"event": "bot", "text": "réponse", "data": {"custom": {"fact_id": fact}}})
                )
        if rng.random() < 0.05:
            events.append(("action", None, "erasure_request_form", {"event": "action", "name": "erasure_request_form"}))
        for offset, (kind, intent, action, data) in enumerate(events):
            data["timestamp"] = ts + offset
            yield sender, kind, ts + offset, intent, action, json.dumps(data)


def _create_events_table(url: str) -> None:
    from rasa.core.tracker_store import SQLTrackerStore

    engine = sa.create_engine(url)
    SQLTrackerStore.Base.metadata.create_all(engine)
    engine.dispose()


def seed(url: str, conversations: int, now: float) -> int:
    """Bulk-load synthetic conversations (COPY on PostgreSQL, one executemany transaction on
    SQLite); return the number of events."""
    _create_events_table(url)
    columns = "sender_id, type_name, timestamp, intent_name, action_name, data"
    if url.startswith("sqlite"):
        connection = sqlite3.connect(sa.engine.make_url(url).database)
        rows = list(synthetic_events(conversations, now))
        with connection:
            connection.executemany(f"INSERT INTO {TABLE} ({columns}) VALUES (?, ?, ?, ?, ?, ?)", rows)
        connection.close()
        return len(rows)
    buffer = io.StringIO()
    count = 0
    for sender, kind, ts, intent, action, data in synthetic_events(conversations, now):
        row = [sender, kind, repr(ts), intent or "\\N", action or "\\N", data.replace("\\", "\\\\").replace("\t", " ")]
        buffer.write("\t".join(row) + "\n")
        count += 1
    buffer.seek(0)
    engine = sa.create_engine(url)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.copy_expert(f"COPY {TABLE} ({columns}) FROM STDIN", buffer)
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as connection:
        connection.execute(sa.text(f"ANALYZE {TABLE}"))
    engine.dispose()
    return count


# --- The console's queries before the summaries (as of 2026-11-29) ----------------------------
def _slot_pattern(name: str, value: Optional[str] = None) -> str:
    head = event_json({"name": name, "value": value})[1:-1]
    if value is None:
        return "%" + head[: head.rindex(":") + 2] + "%"
    return "%" + head + "%"


FALLBACK_PATTERN = "%" + event_json({"fallback": None})[1:-6] + "%"
AMBIGUOUS_PATTERN = "%" + event_json({"fallback": "ambiguous"})[1:-1] + "%"


def _legacy_confidence_sql(engine) -> str:
    if engine.dialect.name == "postgresql":
        return (
            "CASE WHEN type_name = 'user' THEN "
            "CAST(CAST(data AS json)->'parse_data'->'intent'->>'confidence' AS float) END"
        )
    return "CASE WHEN type_name = 'user' THEN CAST(json_extract(data, '$.parse_data.intent.confidence') AS REAL) END"


def _legacy_clauses(filters: ConversationFilters, confidence_sql: str):
    where: List[str] = []
    having: List[str] = []
    params: Dict[str, Any] = {}
    if filters.start is not None:
        having.append("max(timestamp) >= :start")
        params["start"] = filters.start
    if filters.end is not None:
        having.append("max(timestamp) < :end")
        params["end"] = filters.end + 86400
    if filters.with_fallback:
        where.append(f"sender_id IN (SELECT sender_id FROM {TABLE} WHERE type_name = 'bot' AND data LIKE :fallback)")
        params["fallback"] = FALLBACK_PATTERN
    if filters.with_hesitation:
        where.append(f"sender_id IN (SELECT sender_id FROM {TABLE} WHERE type_name = 'bot' AND data LIKE :ambiguous)")
        params["ambiguous"] = AMBIGUOUS_PATTERN
    if filters.with_request_form:
        where.append(f"sender_id IN (SELECT sender_id FROM {TABLE} WHERE action_name LIKE :form)")
        params["form"] = "%" + FORM_ACTION_SUFFIX
    if filters.fact_id:
        where.append(f"sender_id IN (SELECT sender_id FROM {TABLE} WHERE type_name = 'slot' AND data LIKE :fact)")
        params["fact"] = _slot_pattern(FACT_SLOT, filters.fact_id)
    if filters.text:
        where.append(f"sender_id IN (SELECT sender_id FROM {TABLE} WHERE type_name = 'user' AND lower(data) LIKE :q)")
        params["q"] = "%" + json.dumps(filters.text.lower())[1:-1] + "%"
    if filters.confidence_below is not None:
        having.append(f"min({confidence_sql}) < :below")
        params["below"] = filters.confidence_below
    if filters.after is not None:
        having.append("(max(timestamp) < :after_ts OR (max(timestamp) = :after_ts AND sender_id < :after_id))")
        params.update(after_ts=filters.after[0], after_id=filters.after[1])
    return where, having, params


def legacy_list(self: ConversationLog, filters: ConversationFilters, page_size: int = 50) -> ConversationPage:
    """ConversationLog.list before the summaries: every page aggregates every event."""
    if not self.exists():
        return ConversationPage([], None)
    confidence = _legacy_confidence_sql(self.engine)
    where, having, params = _legacy_clauses(filters, confidence)
    sql = (
        "SELECT sender_id, min(timestamp) AS started, max(timestamp) AS last, "
        "sum(CASE WHEN type_name = 'user' THEN 1 ELSE 0 END) AS turns, "
        "sum(CASE WHEN type_name = 'bot' AND data LIKE :fallback_any THEN 1 ELSE 0 END) AS fallbacks, "
        "sum(CASE WHEN action_name LIKE :form_any THEN 1 ELSE 0 END) AS forms, "
        f"min({confidence}) AS lowest_confidence "
        f"FROM {TABLE}"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " GROUP BY sender_id"
        + (" HAVING " + " AND ".join(having) if having else "")
        + f" ORDER BY last DESC, sender_id DESC LIMIT {int(page_size) + 1}"
    )
    params.update(fallback_any=FALLBACK_PATTERN, form_any="%" + FORM_ACTION_SUFFIX)
    with self.engine.connect() as connection:
        rows = [dict(r) for r in connection.execute(sa.text(sql), params).mappings()]
        more = len(rows) > page_size
        rows = rows[:page_size]
        facts: Dict[str, set] = defaultdict(set)
        if rows:
            query = sa.text(
                f"SELECT sender_id, data FROM {TABLE} WHERE type_name = 'slot' AND sender_id IN :senders "
                "AND data LIKE :slot"
            ).bindparams(sa.bindparam("senders", expanding=True))
            found = connection.execute(
                query, {"senders": [r["sender_id"] for r in rows], "slot": _slot_pattern(FACT_SLOT)}
            )
            for sender, data in found:
                value = json.loads(data).get("value")
                if value:
                    facts[sender].add(value)
    for row in rows:
        row["facts"] = sorted(facts.get(row["sender_id"], ()))
        row["last_dt"] = dt.datetime.fromtimestamp(row["last"], dt.timezone.utc)
    cursor = f"{rows[-1]['last']!r}|{rows[-1]['sender_id']}" if more and rows else None
    return ConversationPage(rows, cursor)


def legacy_dashboard(self: ConversationLog, days: int, now: Optional[float] = None) -> Dashboard:
    """ConversationLog.dashboard before the summaries."""
    if not self.exists():
        return Dashboard(0, [], [], 0)
    since = (time.time() if now is None else now) - days * 86400
    with self.engine.connect() as connection:
        starts = connection.execute(
            sa.text(
                f"SELECT sender_id, min(timestamp) FROM {TABLE} GROUP BY sender_id HAVING min(timestamp) >= :since"
            ),
            {"since": since},
        ).all()
        fallback_senders = set(
            connection.execute(
                sa.text(
                    f"SELECT DISTINCT sender_id FROM {TABLE} WHERE type_name = 'bot' AND timestamp >= :since "
                    "AND data LIKE :f"
                ),
                {"since": since, "f": FALLBACK_PATTERN},
            ).scalars()
        )
        fact_rows = (
            connection.execute(
                sa.text(f"SELECT data FROM {TABLE} WHERE type_name = 'slot' AND timestamp >= :since AND data LIKE :s"),
                {"since": since, "s": _slot_pattern(FACT_SLOT)},
            )
            .scalars()
            .all()
        )
        recent = connection.execute(
            sa.text(
                f"SELECT sender_id, type_name, data FROM {TABLE} WHERE timestamp >= :since "
                "AND type_name IN ('user', 'bot') ORDER BY sender_id, id"
            ),
            {"since": since},
        ).all()
    per_day: Dict[str, List[str]] = defaultdict(list)
    for sender, started in starts:
        per_day[dt.datetime.fromtimestamp(started, dt.timezone.utc).date().isoformat()].append(sender)
    ordered = sorted(per_day.items())
    facts = Counter(json.loads(d).get("value") for d in fact_rows)
    facts.pop(None, None)
    unanswered: Counter = Counter()
    last_user: Dict[str, str] = {}
    for sender, kind, data in recent:
        event = json.loads(data)
        if kind == "user":
            last_user[sender] = (event.get("text") or "").strip().lower()
        elif ((event.get("data") or {}).get("custom") or {}).get("fallback") and last_user.get(sender):
            unanswered[last_user.pop(sender)] += 1
    return Dashboard(
        total=len(starts),
        conversations_per_day=[(day[5:], len(s)) for day, s in ordered],
        fallback_rate_per_day=[
            (day[5:], round(100 * sum(x in fallback_senders for x in s) / len(s))) for day, s in ordered
        ],
        fallback_total=len(fallback_senders & {s for s, _ in starts}),
        facts=facts.most_common(10),
        unanswered=unanswered.most_common(10),
    )


@contextlib.contextmanager
def legacy_console():
    """The console served by the queries it ran before the summaries."""
    with (
        mock.patch.object(ConversationLog, "list", legacy_list),
        mock.patch.object(ConversationLog, "dashboard", legacy_dashboard),
    ):
        yield


# --- Comparing the two ------------------------------------------------------------------------
def page_rows(page: ConversationPage) -> List[tuple]:
    """What a list page shows, and where the next one starts."""
    return [
        (
            r["sender_id"],
            r["last"],
            r["turns"],
            bool(r["fallbacks"]),
            bool(r["forms"]),
            r["lowest_confidence"],
            r["facts"],
        )
        for r in page.rows
    ] + [page.cursor]


def _same_top(first: List[Tuple[str, int]], second: List[Tuple[str, int]]) -> bool:
    """The same top ten, except for the order of ties (and which tie made the cut)."""
    if [n for _, n in first] != [n for _, n in second]:
        return False
    cut = first[-1][1] if first else 0
    return {x for x in first if x[1] > cut} == {x for x in second if x[1] > cut}


def same_dashboard(first: Dashboard, second: Dashboard) -> bool:
    return (
        (first.total, first.conversations_per_day, first.fallback_rate_per_day, first.fallback_total)
        == (second.total, second.conversations_per_day, second.fallback_rate_per_day, second.fallback_total)
        and _same_top(first.facts, second.facts)
        and _same_top(first.unanswered, second.unanswered)
    )


# --- Measuring --------------------------------------------------------------------------------
def timed(client, path: str, repeat: int = 3) -> float:
    durations = []
    for _ in range(repeat):
        started = time.monotonic()
        response = client.get(path)
        durations.append(time.monotonic() - started)
        assert response.status_code == 200, path
        if durations[0] > 3 and repeat > 1:  # the slow old queries: once is enough to see it
            break
    return statistics.median(durations) * 1000


def _deep_cursor(url: str, page: int) -> str:
    """The cursor of list page `page` (events aggregated once, the summaries need not exist)."""
    query = sa.text(
        f"SELECT max(timestamp) AS last, sender_id FROM {TABLE} GROUP BY sender_id "
        "ORDER BY last DESC, sender_id DESC LIMIT 1 OFFSET :n"
    )
    with engine_for(url).connect() as connection:
        last, sender = connection.execute(query, {"n": (page - 1) * PAGE_SIZE - 1}).one()
    return f"{last!r}|{sender}"


def pages(url: str) -> Dict[str, str]:
    today = dt.datetime.now(dt.timezone.utc).date()
    first = legacy_list(ConversationLog(url), ConversationFilters(), PAGE_SIZE).cursor or ""
    return {
        "liste, première page": "",
        "liste, page 2 (curseur)": f"apres={first}",
        f"liste, page {DEEP_PAGE} (curseur)": f"apres={_deep_cursor(url, DEEP_PAGE)}",
        "replis seulement": "repli=1",
        "« Vouliez-vous dire… ? »": "hesitation=1",
        "un fait (fait=cloud_act)": "fait=cloud_act",
        "demande commencée": "demande=1",
        "confiance < 0,2": "confiance_max=0.2",
        "recherche de texte (q=cloud)": "q=cloud",
        "recherche d'un mot de chaque message (q=question)": "q=question",
        "recherche sans résultat (q=introuvable)": "q=introuvable",
        "fait sans conversation (fait=inconnu)": "fait=inconnu",
        "confiance < 0 (aucune conversation)": "confiance_max=0",
        "période de 7 jours": f"du={(today - dt.timedelta(days=7)).isoformat()}",
        "période passée (J-60 à J-53)": f"du={(today - dt.timedelta(days=60)).isoformat()}"
        f"&au={(today - dt.timedelta(days=53)).isoformat()}",
        "repli + fait + confiance < 0,5": "repli=1&fait=cloud_act&confiance_max=0.5",
    }


DASHBOARDS = {"tableau de bord (30 jours)": 30, "tableau de bord (365 jours)": 365}


def _args(query: str) -> MultiDict:
    from urllib.parse import parse_qsl

    return MultiDict(parse_qsl(query, keep_blank_values=True))


def save_cost(url: str, conversations: int = 150) -> Tuple[float, float]:
    """Median milliseconds of a tracker-store save of a two-turn conversation (two saves), without
    then with the summary update; alternated so that both see the same database."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from rasa_addons.tracker_store import MaskingSQLTrackerStore

    domain = Domain.from_yaml('version: "3.1"\nslots:\n  last_fact_id: {type: text, mappings: [{type: custom}]}\n')
    store = MaskingSQLTrackerStore(domain=domain, url=url)
    durations: Dict[bool, List[float]] = {False: [], True: []}
    real = conversation_log.record_saved
    for i in range(conversations):
        summarised = i % 2 == 1
        sender = f"bench-save-{i:05d}"
        tracker = DialogueStateTracker.from_events(sender, [ActionExecuted("action_listen")], slots=domain.slots)
        with mock.patch.object(conversation_log, "record_saved", real if summarised else lambda *a, **k: None):
            for turn in range(2):
                for event in (
                    UserUttered(f"question {turn} sur le cloud act", {"name": "faq", "confidence": 0.8}),
                    SlotSet(FACT_SLOT, "cloud_act"),
                    BotUttered("réponse", {"custom": {"fact_id": "cloud_act"}}),
                    ActionExecuted("action_listen"),
                ):
                    tracker.update(event)
                started = time.perf_counter()
                asyncio.run(store.save(tracker))
                durations[summarised].append(time.perf_counter() - started)
    store.engine.dispose()
    # The first saves load the masking model: leave them out.
    return tuple(statistics.median(durations[flag][10:]) * 1000 for flag in (False, True))


def explain(url: str, query_string: str = "", dashboard: Optional[str] = None) -> str:
    log = ConversationLog(url)
    if dashboard is not None:
        sql, params = log.dashboard_queries(time.time() - 30 * 86400)[dashboard]
    else:
        sql, params = log.list_query(ConversationFilters.from_args(_args(query_string)), PAGE_SIZE)
    with log.engine.connect() as connection:
        if log.engine.dialect.name == "postgresql":
            lines = connection.execute(sa.text("EXPLAIN (ANALYZE, COSTS OFF) " + sql), params).scalars().all()
            return "\n".join(lines)
        rows = connection.execute(sa.text("EXPLAIN QUERY PLAN " + sql), params).all()
    depth: Dict[int, int] = {0: -1}
    lines = []
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + detail)
    return "\n".join(lines)


EXPLAINED = {
    "liste, première page": ("", None),
    f"liste, page {DEEP_PAGE} (curseur)": (None, None),
    "replis seulement": ("repli=1", None),
    "un fait (fait=cloud_act)": ("fait=cloud_act", None),
    "confiance < 0,2": ("confiance_max=0.2", None),
    "recherche de texte (q=cloud)": ("q=cloud", None),
    "recherche d'un mot de chaque message (q=question)": ("q=question", None),
    "recherche sans résultat (q=introuvable)": ("q=introuvable", None),
    "tableau de bord : conversations par jour": ("", "per_day"),
    "tableau de bord : faits donnés": ("", "facts"),
    "tableau de bord : questions sans réponse": ("", "unanswered"),
}


@contextlib.contextmanager
def databases(backend: str) -> Iterator[Tuple[str, str]]:
    if backend == "postgresql":
        with fresh_postgres_database() as tracker_url, fresh_postgres_database() as app_url:
            yield tracker_url, app_url
    else:
        with tempfile.TemporaryDirectory(prefix="bench-console-") as folder:
            tracker_url, app_url = (f"sqlite:///{Path(folder) / name}" for name in ("conversations.db", "app.db"))
            try:
                yield tracker_url, app_url
            finally:
                engine_for(tracker_url).dispose()
                engine_for(app_url).dispose()


def run(backend: str) -> Dict[str, Any]:
    now = time.time()
    result: Dict[str, Any] = {"times": {}, "same": {}, "plans": {}}
    with databases(backend) as (tracker_url, app_url):
        started = time.monotonic()
        result["events"] = seed(tracker_url, CONVERSATIONS, now)
        result["seeded"] = time.monotonic() - started
        client = logged_in_client(tracker_url, app_url)
        paths = pages(tracker_url)
        log = ConversationLog(tracker_url)
        with legacy_console():
            before = {name: timed(client, f"/console/conversations?{query}") for name, query in paths.items()}
            before.update(
                {name: timed(client, f"/console/tableau-de-bord?jours={d}") for name, d in DASHBOARDS.items()}
            )
            old_rows = {
                name: page_rows(log.list(ConversationFilters.from_args(_args(q)), PAGE_SIZE))
                for name, q in paths.items()
            }
            old_dashboards = {name: log.dashboard(d, now) for name, d in DASHBOARDS.items()}

        started = time.monotonic()
        ensure_summaries(log.engine)  # what the tracker store does on its first start after the upgrade
        result["built"] = time.monotonic() - started
        if backend == "postgresql":
            with log.engine.begin() as connection:
                connection.execute(sa.text("ANALYZE"))  # what autovacuum does after a bulk load
        with log.engine.connect() as connection:
            result["summaries"] = connection.execute(
                sa.select(sa.func.count()).select_from(conversation_summaries)
            ).scalar()
            result["version"] = (
                connection.execute(sa.text("SHOW server_version")).scalar()
                if backend == "postgresql"
                else sqlite3.sqlite_version
            )
        after = {name: timed(client, f"/console/conversations?{query}") for name, query in paths.items()}
        after.update({name: timed(client, f"/console/tableau-de-bord?jours={d}") for name, d in DASHBOARDS.items()})
        for name, query in paths.items():
            result["same"][name] = (
                page_rows(log.list(ConversationFilters.from_args(_args(query)), PAGE_SIZE)) == old_rows[name]
            )
        for name, d in DASHBOARDS.items():
            result["same"][name] = same_dashboard(log.dashboard(d, now), old_dashboards[name])
        result["times"] = {name: (before[name], after[name]) for name in before}
        for name, (query, dashboard) in EXPLAINED.items():
            if query is None:
                query = paths[name]
            result["plans"][name] = explain(tracker_url, query, dashboard)
        result["save"] = save_cost(tracker_url)
    return result


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f", {kib / 1024 / 1024:.0f} Go de mémoire"
    load = ""
    with contextlib.suppress(OSError, AttributeError):
        load = f", charge moyenne {os.getloadavg()[0]:.1f} à la fin (machine partagée)"
    return (
        f"{cpu}, {os.cpu_count()} cœurs{memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}{load}"
    )


def _ms(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def report(results: Dict[str, Dict[str, Any]]) -> str:
    count = f"{CONVERSATIONS:,}".replace(",", " ")
    versions = ", ".join(f"{NAMES[b]} {r['version']}" for b, r in results.items())
    lines = [
        f"# Console : temps de réponse sur {count} conversations",
        "",
        f"Généré par `make bench-console` le {dt.date.today().isoformat()} sur {machine()} ; {versions} "
        "(serveur PostgreSQL local, réglages par défaut ; fichier SQLite en mode WAL). "
        f"{count} conversations synthétiques par base, pages servies par l'application web (client de test "
        "Flask, gabarits compris, médiane de 3 appels, un seul appel au-delà de 3 s, sans cache).",
        "",
        "« Avant » : les requêtes de la console jusqu'ici, qui agrégeaient tous les événements à chaque page "
        "(`legacy_list`, `legacy_dashboard` dans `bench/console_queries.py`). « Après » : les résumés par "
        "conversation (`conversations/summary.py`, tables de `storage/schema.py`). Les deux sur la même base, "
        "dans la même exécution ; « mêmes lignes » compare ce que les deux versions affichent (la page "
        "entière et le curseur de la suivante ; pour le tableau de bord, les mêmes chiffres, à l'ordre des "
        "ex-æquo près).",
        "",
    ]
    backends = list(results)
    header = "| page | " + " | ".join(f"{NAMES[b]} avant (ms) | {NAMES[b]} après (ms)" for b in backends)
    lines += [header + " | mêmes lignes |", "|---|" + "---:|---:|" * len(backends) + "---|"]
    for name in results[backends[0]]["times"]:
        cells = " | ".join(
            f"{_ms(results[b]['times'][name][0])} | **{_ms(results[b]['times'][name][1])}**" for b in backends
        )
        same = all(results[b]["same"].get(name) for b in backends)
        lines.append(f"| {name} | {cells} | {'oui' if same else '**non**'} |")
    lines += ["", "## Chargement, construction des résumés, coût à l'écriture", ""]
    lines += ["| | " + " | ".join(NAMES[b] for b in backends) + " |", "|---|" + "---:|" * len(backends)]
    rows = [
        ("événements chargés", lambda r: f"{r['events']:,}".replace(",", " ")),
        ("chargement (COPY / executemany, une transaction)", lambda r: f"{r['seeded']:.0f} s"),
        (
            "construction des résumés depuis les événements (une fois, au premier démarrage)",
            lambda r: f"{r['built']:.0f} s",
        ),
        ("conversations résumées", lambda r: f"{r['summaries']:,}".replace(",", " ")),
        ("enregistrement d'un tour par le tracker store, sans résumé (médiane)", lambda r: f"{r['save'][0]:.1f} ms"),
        ("le même, avec la mise à jour du résumé", lambda r: f"{r['save'][1]:.1f} ms"),
    ]
    for label, value in rows:
        lines.append(f"| {label} | " + " | ".join(value(results[b]) for b in backends) + " |")
    lines += [
        "",
        "## Ce qui a changé",
        "",
        "- **Une ligne par conversation** (`conversation_summaries`) : premier et dernier message, tours, "
        "replis (et le dernier motif), « Vouliez-vous dire… ? », formulaires de demande, confiance minimale. "
        "Tenue à jour par le tracker store dans la transaction même qui enregistre les événements ; "
        "index `(last_at, sender_id)` pour l'ordre et le curseur, index partiels pour les filtres sélectifs "
        "(replis, hésitations, demandes), `(first_at, fallbacks)` pour le tableau de bord.",
        "- **Une ligne par fait donné** (`conversation_facts`), **par repli** avec la question restée sans "
        "réponse (`conversation_fallbacks`), **par message du citoyen** avec son texte masqué "
        "(`conversation_texts`) : recherche plein texte, configuration `french` de PostgreSQL (index GIN) et "
        "FTS5 de SQLite (insensible à la casse et aux accents). Seul le texte masqué, tel que stocké dans "
        "`events`, est indexé.",
        "- **La page N coûte la page 1** : le curseur devient une borne sur l'index `(last_at, sender_id, "
        "lowest_confidence)` ; le filtre de confiance se lit dans le même index.",
        "- **Recherche, mots fréquents ou rares** : sur PostgreSQL, l'estimation du planificateur ne distingue "
        "pas un mot présent partout d'un mot absent quand on cherche des débuts de mots (un mot absent "
        "parcourait les 100 000 conversations : 2,8 s) ; une première requête compte les conversations parmi "
        "les 5 000 premiers messages trouvés (quelques ms) : à partir de 1 000, les conversations sont "
        "parcourues des plus récentes aux plus anciennes jusqu'à remplir la page, sinon les messages sont "
        "trouvés d'abord. Sur SQLite, les messages trouvés d'abord, puis l'index parcouru dans l'ordre "
        "(`+sender_id IN (…)` empêche SQLite de trier toutes les conversations trouvées) ; même chose pour le "
        "filtre par fait.",
        "- **Différences entre les deux bases** : PostgreSQL réduit les mots à leur radical français et ignore "
        "les mots vides (« le », « sur »… : une recherche de ces seuls mots ne trouve rien) ; SQLite cherche "
        "des débuts de mots, sans radical, sans tenir compte des accents.",
        "- **Recherche de texte** : elle cherche désormais des mots (chacun comme début de mot dès trois caractères, entier en deçà) dans le texte "
        "des messages, au lieu d'une sous-chaîne dans tout le JSON de l'événement (qui trouvait aussi les "
        "noms d'intention et d'entité) ; sur ces données, les mêmes conversations.",
        "- **Purge et re-masquage** : `make purge` supprime résumé, faits, replis et textes indexés avec la "
        "conversation ; `make remask` recalcule ceux des conversations qu'il réécrit, dans la même transaction.",
        "- **Installations existantes** : au premier démarrage du serveur Rasa (ou à la première lecture de la "
        "console), les tables sont créées et remplies depuis les événements déjà stockés, en une transaction ; "
        "`python -m conversations.summary` les recalcule toutes (par lots de 500 conversations).",
        "",
        "## Plans d'exécution",
        "",
        "Requêtes principales, sur la base de 100 000 conversations, après construction des résumés "
        "(PostgreSQL : `EXPLAIN (ANALYZE, COSTS OFF)` ; SQLite : `EXPLAIN QUERY PLAN`).",
    ]
    for backend in backends:
        lines += ["", f"### {NAMES[backend]}"]
        for name, plan in results[backend]["plans"].items():
            lines += ["", f"**{name}**", "", "```", plan, "```"]
    return "\n".join(lines) + "\n"


def main() -> int:
    results = {}
    for backend in BACKENDS:
        print(f"{NAMES[backend]}…", flush=True)
        results[backend] = run(backend)
        for name, (before, after) in results[backend]["times"].items():
            print(
                f"  {name}: {before:.0f} → {after:.0f} ms, mêmes lignes : {results[backend]['same'][name]}", flush=True
            )
    text = report(results)
    REPORT.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
