"""The conversation log: the `events` table that Rasa's SQL tracker store writes, and the
per-conversation summaries kept beside it (conversations.summary).

This is the only module that reads the table and knows the JSON layout of its rows. The
tracker store (rasa_addons.tracker_store) writes rows with `event_row()`, reads a conversation
with the statements below and, in the same transaction, brings the conversation's summary up
to date with `record_saved()`; the console lists, filters and counts conversations with
`ConversationLog`, from the summaries (issue #20: no page aggregates every event); `make purge`
deletes old conversations with `ConversationLog.purge()` and `make remask` rewrites events with
`ConversationLog.replace_events()`, both with their summaries in the same transaction.

Rows hold masked events only (privacy.masking). The `data` column is the event as Rasa
serialises it, written by `event_json()`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from conversations import summary
from conversations.summary import FACT_SLOT, FORM_ACTION_SUFFIX  # noqa: F401 - the log's vocabulary
from storage.database import engine_for, sqlite_pragmas
from storage.schema import conversation_facts, conversation_fallbacks, conversation_summaries
from training.nlu_data import RETRIEVAL_INTENT

logger = logging.getLogger(__name__)
TABLE = "events"
SUMMARIES = conversation_summaries.name
REBUILD_BATCH = 500  # conversations per statement (and per transaction, for a full rebuild)
_SUMMARY_LOCK_ID = 7_362_002  # PostgreSQL advisory lock: one process creates the summaries


def event_json(data: Mapping[str, Any]) -> str:
    """The `data` column of a row: the serialised (masked) event."""
    return json.dumps(data, separators=(", ", ": "))


def event_row(sender_id: str, type_name: str, data: Mapping[str, Any]) -> Dict[str, Any]:
    """One row of the table, as the tracker store inserts it."""
    return {
        "sender_id": sender_id,
        "type_name": type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": ((data.get("parse_data") or {}).get("intent") or {}).get("name"),
        "action_name": data.get("name"),
        "data": event_json(data),
    }


SOMETHING_ELSE_PAYLOAD = "/something_else"


def chosen_reading(text: Optional[str]) -> str:
    """What the citizen did after « Vouliez-vous dire… ? »: a candidate's id, « autre chose »,
    or « message tapé » (no button)."""
    text = (text or "").strip()
    if text.startswith("/ask_fact{"):
        try:
            return str(json.loads(text[len("/ask_fact") :]).get("fact_id"))
        except (ValueError, AttributeError):
            return "message tapé"
    if text == SOMETHING_ELSE_PAYLOAD:
        return "autre chose"
    if text.startswith("/request_") and "{" not in text:
        return f"{text[len('/request_') :]}_request_form"
    return "message tapé"


# --- What the tracker store runs on every turn (rasa_addons.tracker_store) ------------------
SESSION_START = sa.text(f"SELECT max(timestamp) FROM {TABLE} WHERE sender_id = :sender_id AND type_name = :type_name")
EVENTS = sa.text(f"SELECT data FROM {TABLE} WHERE sender_id = :sender_id ORDER BY id")
EVENTS_SINCE = sa.text(f"SELECT data FROM {TABLE} WHERE sender_id = :sender_id AND timestamp >= :since ORDER BY id")
COUNT = sa.text(f"SELECT count(*) FROM {TABLE} WHERE sender_id = :sender_id")
COUNT_SINCE = sa.text(f"SELECT count(*) FROM {TABLE} WHERE sender_id = :sender_id AND timestamp >= :since")

# --- Summaries (conversations.summary): what they are computed from ----------------------------
_EVENTS_OF = sa.text(
    f"SELECT sender_id, type_name, timestamp, action_name, data FROM {TABLE} "
    "WHERE sender_id IN :senders ORDER BY sender_id, id"
).bindparams(sa.bindparam("senders", expanding=True))
_SENDERS = sa.text(f"SELECT DISTINCT sender_id FROM {TABLE}")
_SENDERS_OF_ROWS = sa.text(f"SELECT DISTINCT sender_id FROM {TABLE} WHERE id IN :ids").bindparams(
    sa.bindparam("ids", expanding=True)
)


def _batches(items: Sequence[Any], size: int = REBUILD_BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rebuild(connection: Connection, senders: Sequence[str]) -> int:
    """Recompute these conversations' summaries from their stored events (in the caller's
    transaction); a sender without events loses its summary. Returns the conversations summarised."""
    done = 0
    for batch in _batches(list(senders)):
        # Delete first: on SQLite that takes the write lock, so no save slips in between the
        # read below and the write (on PostgreSQL a save waits for the deleted row's lock).
        summary.delete(connection, batch)
        rows = connection.execute(_EVENTS_OF, {"senders": list(batch)})
        summaries, side = [], summary.SideRows()
        for sender, events in itertools.groupby(rows, key=lambda row: row[0]):
            one = summary.Summary(sender)
            summary.fold(
                one,
                (
                    {"type_name": kind, "timestamp": at, "action_name": action, "event": json.loads(data)}
                    for _, kind, at, action, data in events
                ),
                side,
            )
            summaries.append(one)
        summary.write(connection, summaries, side)
        done += len(summaries)
    return done


def record_saved(
    connection: Connection, sender_id: str, rows: Sequence[Mapping[str, Any]], first: bool = False
) -> None:
    """Fold the events a save just inserted (`event_row()` rows with `event`, the masked dict)
    into their conversation's summary, in the save's transaction. `first`: nothing of the
    conversation was stored before these rows. A conversation stored before the summaries
    existed is summarised from all its events."""
    side = summary.SideRows()
    if first:  # two or three statements: no summary to read, no event to read back
        new = summary.Summary(sender_id)
        summary.fold(new, rows, side)
        summary.write(connection, [new], side)
        return
    current = summary.load(connection, sender_id)
    if current is None:
        rebuild(connection, [sender_id])
        return
    summary.fold(current, rows, side)
    summary.update(connection, current, side)


def _create_summaries(connection: Connection) -> None:
    summary.create(connection)
    if sa.inspect(connection).has_table(TABLE):
        senders = list(connection.execute(_SENDERS).scalars())
        if senders:
            logger.info("summarising %d stored conversations (once, issue #20)", len(senders))
        rebuild(connection, senders)


_summarised: set = set()
_summarised_lock = threading.Lock()


def _sqlite_writer(url: sa.engine.URL) -> Engine:
    """An engine whose transactions start with BEGIN IMMEDIATE: the check that the summaries are
    missing, their creation and their filling happen under one write lock (pysqlite on its own
    would start the transaction at the first insert only)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"timeout": 60}, future=True)

    def connect(dbapi_connection, record) -> None:  # noqa: ANN001
        sqlite_pragmas(dbapi_connection, record)
        dbapi_connection.isolation_level = None  # transactions are begun below, not by pysqlite

    sa.event.listen(engine, "connect", connect)
    sa.event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN IMMEDIATE"))
    return engine


def ensure_summaries(engine: Engine) -> None:
    """Create the summary tables of this conversation log and fill them from the stored events,
    if that was not done yet (an install upgraded to issue #20). Safe from several processes at
    once: one creates and fills, in one transaction, while the others wait for it."""
    key = engine.url.render_as_string(hide_password=False)
    if key in _summarised:
        return
    with _summarised_lock:
        if key in _summarised:
            return
        with engine.connect() as connection:  # the usual case: a read, no lock
            if not summary.missing(connection):
                _summarised.add(key)
                return
        in_memory = engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
        if engine.dialect.name == "sqlite" and not in_memory:
            writer = _sqlite_writer(engine.url)
            try:
                with writer.begin() as connection:
                    if summary.missing(connection):
                        _create_summaries(connection)
            finally:
                writer.dispose()
        else:
            with engine.begin() as connection:
                if summary.missing(connection):
                    if engine.dialect.name == "postgresql":
                        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _SUMMARY_LOCK_ID})
                    if summary.missing(connection):
                        _create_summaries(connection)
        _summarised.add(key)


# --- Console: list filters -------------------------------------------------------------------
def _parse_date(value: Optional[str]) -> Optional[float]:
    try:
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.timezone.utc).timestamp() if value else None
    except ValueError:
        return None


def _parse_float(value: Optional[str]) -> Optional[float]:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass(frozen=True)
class ConversationFilters:
    """The console's list filters, read from URL arguments (names are the console's French ones).

    Each filter becomes an SQL clause on the conversation summaries, with bound parameters;
    nothing from the URL is ever pasted into SQL text."""

    start: Optional[float] = None  # du=YYYY-MM-DD: last activity on or after
    end: Optional[float] = None  # au=YYYY-MM-DD: last activity on or before that day
    with_fallback: bool = False  # repli=1
    with_request_form: bool = False  # demande=1
    with_hesitation: bool = False  # hesitation=1: « Vouliez-vous dire… ? » was asked
    fact_id: Optional[str] = None  # fait=<id>
    text: Optional[str] = None  # q=<words in a citizen's message>
    confidence_below: Optional[float] = None  # confiance_max=0.5
    after: Optional[Tuple[float, str]] = None  # apres=<cursor>: keyset pagination

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "ConversationFilters":
        return cls(
            start=_parse_date(args.get("du")),
            end=_parse_date(args.get("au")),
            with_fallback=args.get("repli") == "1",
            with_request_form=args.get("demande") == "1",
            with_hesitation=args.get("hesitation") == "1",
            fact_id=(args.get("fait") or "")[:60] or None,
            text=(args.get("q") or "")[:100] or None,
            confidence_below=_parse_float(args.get("confiance_max")),
            after=parse_cursor(args.get("apres")),
        )

    def clauses(self, dialect: str, dense_text: bool = False) -> Optional[Tuple[List[str], Dict[str, Any]]]:
        """(WHERE clauses on `conversation_summaries`, parameters); None when nothing can match
        (a text search without a word to look for). `dense_text`: the searched words are in
        many conversations (conversations.summary.TextSearch)."""
        where: List[str] = []
        params: Dict[str, Any] = {}
        if self.start is not None:
            where.append("last_at >= :start")
            params["start"] = self.start
        if self.end is not None:
            where.append("last_at < :end")
            params["end"] = self.end + 86400
        # The same conditions as the partial indexes of storage.schema, so that they are used.
        if self.with_fallback:
            where.append("fallbacks > 0")
        if self.with_hesitation:
            where.append("hesitations > 0")
        if self.with_request_form:
            where.append("forms > 0")
        if self.fact_id:
            # SQLite: the fact's conversations once, then the index newest first (no sort of them all).
            column = "+sender_id" if dialect == "sqlite" else "sender_id"
            where.append(f"{column} IN (SELECT sender_id FROM {conversation_facts.name} WHERE fact_id = :fact)")
            params["fact"] = self.fact_id
        if self.text:
            search = summary.TextSearch(dialect, self.text)
            if not search:
                return None
            where.append(search.clause(dense_text))
            params.update(search.params)
        if self.confidence_below is not None:
            where.append("lowest_confidence < :below")
            params["below"] = self.confidence_below
        if self.after is not None:
            where.append("(last_at, sender_id) < (:after_ts, :after_id)")
            params.update(after_ts=self.after[0], after_id=self.after[1])
        return where, params


def parse_cursor(value: Optional[str]) -> Optional[Tuple[float, str]]:
    if not value or "|" not in value:
        return None
    ts, sender = value.split("|", 1)
    try:
        return float(ts), sender
    except ValueError:
        return None


@dataclass
class ConversationPage:
    rows: List[Dict[str, Any]]
    cursor: Optional[str]  # the next page's `apres`, when there is one


@dataclass
class Turn:
    who: str  # "user" or "bot"
    id: int
    text: Optional[str]
    when: dt.datetime
    intent: Optional[str] = None
    confidence: Optional[float] = None
    selected: Optional[str] = None  # the fact the ResponseSelector chose
    selected_confidence: Optional[float] = None
    fact_id: Optional[str] = None
    sources: Sequence[Mapping[str, str]] = ()
    form: Optional[str] = None
    fallback: Optional[str] = None
    candidates: Sequence[str] = ()  # what « Vouliez-vous dire… ? » offered
    chosen: Optional[str] = None  # on the citizen's next message: which reading they picked


@dataclass
class Dashboard:
    total: int
    conversations_per_day: List[Tuple[str, int]]
    fallback_rate_per_day: List[Tuple[str, int]]
    fallback_total: int
    facts: List[Tuple[str, int]] = field(default_factory=list)
    unanswered: List[Tuple[str, int]] = field(default_factory=list)


class ConversationLog:
    """Read, rewrite and purge the conversation log of one tracker-store database."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = engine_for(url)

    def exists(self) -> bool:
        return sa.inspect(self.engine).has_table(TABLE)

    def _ready(self) -> bool:
        """Whether conversations are stored; their summaries are made ready first."""
        if not self.exists():  # no conversation yet: Rasa creates the table on its first start
            return False
        ensure_summaries(self.engine)
        return True

    def _dense_text(self, filters: ConversationFilters) -> bool:
        search = summary.TextSearch(self.engine.dialect.name, filters.text)
        density = search.density() if search else None
        if density is None:
            return False
        with self.engine.connect() as connection:
            found = connection.execute(sa.text(density), search.params).scalar() or 0
        return found >= summary.DENSE_SEARCH_CONVERSATIONS

    def list_query(self, filters: ConversationFilters, page_size: int = 50) -> Optional[Tuple[str, Dict[str, Any]]]:
        """(SQL, parameters) of a list page, newest first; None when nothing can match."""
        clauses = filters.clauses(self.engine.dialect.name, self._dense_text(filters))
        if clauses is None:
            return None
        where, params = clauses
        sql = (
            "SELECT sender_id, first_at AS started, last_at AS last, turns, fallbacks, forms, lowest_confidence "
            f"FROM {SUMMARIES}"
            + (" WHERE " + " AND ".join(where) if where else "")
            + f" ORDER BY last_at DESC, sender_id DESC LIMIT {int(page_size) + 1}"
        )
        return sql, params

    def list(self, filters: ConversationFilters, page_size: int = 50) -> ConversationPage:
        """Conversations by last activity, newest first, with keyset pagination: each page reads
        its own rows of the summaries' (last_at, sender_id) index, however deep it is."""
        query = self.list_query(filters, page_size) if self._ready() else None
        if query is None:
            return ConversationPage([], None)
        with self.engine.connect() as connection:
            rows = [dict(r) for r in connection.execute(sa.text(query[0]), query[1]).mappings()]
        more = len(rows) > page_size
        rows = rows[:page_size]
        facts = self.facts_answered([r["sender_id"] for r in rows])
        for row in rows:
            row["facts"] = sorted(facts.get(row["sender_id"], ()))
            row["last_dt"] = dt.datetime.fromtimestamp(row["last"], dt.timezone.utc)
        cursor = f"{rows[-1]['last']!r}|{rows[-1]['sender_id']}" if more and rows else None
        return ConversationPage(rows, cursor)

    def facts_answered(self, senders: List[str]) -> Dict[str, set]:
        if not senders:
            return {}
        query = sa.select(conversation_facts.c.sender_id, conversation_facts.c.fact_id).where(
            conversation_facts.c.sender_id.in_(senders)
        )
        result: Dict[str, set] = {}
        with self.engine.connect() as connection:
            for sender, fact_id in connection.execute(query):
                result.setdefault(sender, set()).add(fact_id)
        return result

    def events(self, sender_id: str) -> List[Tuple[int, Dict[str, Any]]]:
        """(row id, event) of one conversation, in storage order."""
        if not self.exists():
            return []
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.text(f"SELECT id, data FROM {TABLE} WHERE sender_id = :s ORDER BY id"), {"s": sender_id[:255]}
            ).all()
        return [(row_id, json.loads(data)) for row_id, data in rows]

    def transcript(self, sender_id: str) -> List[Turn]:
        """What the citizen and the assistant said, with what the assistant understood."""
        turns: List[Turn] = []
        asked = False  # « Vouliez-vous dire… ? » waits for the citizen's next message
        for row_id, event in self.events(sender_id):
            when = dt.datetime.fromtimestamp(event.get("timestamp") or 0, dt.timezone.utc)
            if event.get("event") == "user":
                parse = event.get("parse_data") or {}
                intent = parse.get("intent") or {}
                selected = ((parse.get("response_selector") or {}).get(RETRIEVAL_INTENT) or {}).get("response") or {}
                turns.append(
                    Turn(
                        "user",
                        row_id,
                        event.get("text"),
                        when,
                        intent=intent.get("name"),
                        confidence=intent.get("confidence"),
                        selected=selected.get("intent_response_key"),
                        selected_confidence=selected.get("confidence"),
                        chosen=chosen_reading(event.get("text")) if asked else None,
                    )
                )
                asked = False
            elif event.get("event") == "bot":
                custom = (event.get("data") or {}).get("custom") or {}
                turns.append(
                    Turn(
                        "bot",
                        row_id,
                        event.get("text"),
                        when,
                        fact_id=custom.get("fact_id"),
                        sources=custom.get("sources") or [],
                        form=custom.get("form"),
                        fallback=custom.get("fallback"),
                        candidates=custom.get("candidates") or (),
                    )
                )
                asked = asked or custom.get("fallback") == "ambiguous"
        return turns

    def dashboard_queries(self, since: float) -> Dict[str, Tuple[str, Dict[str, Any]]]:
        """The dashboard's statements over the summaries: (SQL, parameters) by name."""
        day = (
            "CAST(floor(first_at / 86400) AS integer)"
            if self.engine.dialect.name == "postgresql"
            else "CAST(first_at / 86400 AS INTEGER)"
        )
        window = {"since": since}
        return {
            "per_day": (
                f"SELECT {day} AS day, count(*) AS started, sum(CASE WHEN fallbacks > 0 THEN 1 ELSE 0 END) "
                f"AS with_fallback FROM {SUMMARIES} WHERE first_at >= :since GROUP BY {day} ORDER BY day",
                window,
            ),
            "facts": (
                f"SELECT fact_id, count(*) AS n FROM {conversation_facts.name}"
                # SQLite would rather read the fact index in order than sort: six times slower.
                + (" INDEXED BY ix_conversation_facts_at" if self.engine.dialect.name == "sqlite" else "")
                + " WHERE at >= :since "
                "GROUP BY fact_id ORDER BY n DESC, fact_id LIMIT 10",
                window,
            ),
            # A fallback counts its question when both are in the period (as the events were).
            "unanswered": (
                f"SELECT question, count(*) AS n FROM {conversation_fallbacks.name} WHERE at >= :since "
                "AND question_at >= :since AND question IS NOT NULL GROUP BY question "
                "ORDER BY n DESC, question LIMIT 10",
                window,
            ),
        }

    def dashboard(self, days: int, now: Optional[float] = None) -> Dashboard:
        """Conversations started in the last `days` days (and those with a fallback) per day,
        facts given and questions left unanswered in that period."""
        if not self._ready():  # a console started before any conversation was stored
            return Dashboard(0, [], [], 0)
        since = (time.time() if now is None else now) - days * 86400
        queries = self.dashboard_queries(since)
        with self.engine.connect() as connection:
            results = {name: connection.execute(sa.text(sql), params).all() for name, (sql, params) in queries.items()}
        epoch = dt.date(1970, 1, 1)
        per_day = [((epoch + dt.timedelta(days=int(d))).isoformat(), n, int(f)) for d, n, f in results["per_day"]]
        return Dashboard(
            total=sum(n for _, n, _ in per_day),
            conversations_per_day=[(day[5:], n) for day, n, _ in per_day],
            fallback_rate_per_day=[(day[5:], round(100 * f / n)) for day, n, f in per_day],
            fallback_total=sum(f for _, _, f in per_day),
            facts=[(fact, n) for fact, n in results["facts"]],
            unanswered=[(text, n) for text, n in results["unanswered"]],
        )

    def user_events_after(self, last_id: int, limit: int) -> List[Tuple[int, Dict[str, Any]]]:
        """(row id, event) of citizens' messages stored after row ``last_id``, oldest first."""
        if not self.exists():
            return []
        query = sa.text(f"SELECT id, data FROM {TABLE} WHERE id > :last AND type_name = 'user' ORDER BY id LIMIT :n")
        with self.engine.connect() as connection:
            rows = connection.execute(query, {"last": last_id, "n": limit}).all()
        return [(row_id, json.loads(data)) for row_id, data in rows]

    def replace_events(self, events: Mapping[int, Mapping[str, Any]]) -> None:
        """Rewrite the stored JSON of the given rows and the summaries of their conversations
        (the searched texts with them), in one transaction."""
        if not events or not self._ready():
            return
        update = sa.text(f"UPDATE {TABLE} SET data = :data WHERE id = :id")
        with self.engine.begin() as connection:
            connection.execute(update, [{"id": row_id, "data": event_json(e)} for row_id, e in events.items()])
            senders = set()
            for ids in _batches(list(events)):
                senders.update(connection.execute(_SENDERS_OF_ROWS, {"ids": list(ids)}).scalars())
            rebuild(connection, sorted(senders))

    def purge(self, cutoff: float) -> Tuple[int, int]:
        """Delete whole conversations whose last event is older than `cutoff` (epoch seconds),
        with their summaries and searchable texts. Returns (conversations, events) deleted."""
        if not self._ready():
            return 0, 0
        events = 0
        with self.engine.begin() as connection:
            stale = sa.text(f"SELECT sender_id FROM {TABLE} GROUP BY sender_id HAVING max(timestamp) < :cutoff")
            senders = [row[0] for row in connection.execute(stale, {"cutoff": cutoff})]
            # Summaries left without events (none, unless rows were deleted by hand) go too.
            orphans = sa.select(conversation_summaries.c.sender_id).where(conversation_summaries.c.last_at < cutoff)
            every = sorted(set(senders) | set(connection.execute(orphans).scalars()))
            delete = sa.text(f"DELETE FROM {TABLE} WHERE sender_id IN :senders").bindparams(
                sa.bindparam("senders", expanding=True)
            )
            for batch in _batches(every):
                events += connection.execute(delete, {"senders": list(batch)}).rowcount
                summary.delete(connection, batch)
        return len(senders), events

    def rebuild_summaries(self, batch: int = REBUILD_BATCH) -> int:
        """Recompute every summary from the stored events (`python -m conversations.summary`),
        one transaction per `batch` conversations so that the assistant keeps saving meanwhile."""
        if not self.exists():
            return 0
        with self.engine.connect() as connection:
            fresh = summary.missing(connection)
        ensure_summaries(self.engine)
        with self.engine.connect() as connection:
            if fresh:  # just created from the stored events: nothing to do twice
                return connection.execute(sa.select(sa.func.count()).select_from(conversation_summaries)).scalar()
            senders = set(connection.execute(_SENDERS).scalars())
            senders |= set(connection.execute(sa.select(conversation_summaries.c.sender_id)).scalars())
        done = 0
        for chunk in _batches(sorted(senders), batch):
            with self.engine.begin() as connection:
                done += rebuild(connection, chunk)
        return done
