"""The conversation log: the `events` table that Rasa's SQL tracker store writes.

This is the only module that knows the table and the JSON layout of its rows. The tracker
store (rasa_addons.tracker_store) writes rows with `event_row()` and reads a conversation
with the statements below; the console lists, filters and aggregates conversations with
`ConversationLog`; `make purge` deletes old ones with `ConversationLog.purge()`.

Rows hold masked events only (privacy.masking). The `data` column is the event as Rasa
serialises it, written by `event_json()`; the filters that match inside it (a slot's value,
a fallback marker) build their patterns with the same function, so a change of separators
cannot silently break them.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.database import engine_for
from training.nlu_data import RETRIEVAL_INTENT

TABLE = "events"
FACT_SLOT = "last_fact_id"  # set by the fact action: which fact a conversation was given
FORM_ACTION_SUFFIX = "_request_form"


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


def _slot_pattern(name: str, value: Optional[str] = None) -> str:
    """LIKE pattern for a slot event's JSON: `"name": "x", "value": "y"` as event_json writes it."""
    head = event_json({"name": name, "value": value})[1:-1]  # '"name": "x", "value": null'
    if value is None:
        return "%" + head[: head.rindex(":") + 2] + "%"
    return "%" + head + "%"


FALLBACK_PATTERN = '%' + event_json({"fallback": None})[1:-6] + '%'  # '"fallback":', any value
AMBIGUOUS_PATTERN = "%" + event_json({"fallback": "ambiguous"})[1:-1] + "%"  # « Vouliez-vous dire… ? »
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

    Each filter becomes an SQL clause with bound parameters; nothing from the URL is ever
    pasted into SQL text."""

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

    def clauses(self, confidence_sql: str) -> Tuple[List[str], List[str], Dict[str, Any]]:
        """(WHERE clauses, HAVING clauses, parameters)."""
        where: List[str] = []
        having: List[str] = []
        params: Dict[str, Any] = {}
        if self.start is not None:
            having.append("max(timestamp) >= :start")
            params["start"] = self.start
        if self.end is not None:
            having.append("max(timestamp) < :end")
            params["end"] = self.end + 86400
        if self.with_fallback:
            where.append(
                f"sender_id IN (SELECT sender_id FROM {TABLE} WHERE type_name = 'bot' AND data LIKE :fallback)"
            )
            params["fallback"] = FALLBACK_PATTERN
        if self.with_hesitation:
            where.append(
                f"sender_id IN (SELECT sender_id FROM {TABLE} WHERE type_name = 'bot' AND data LIKE :ambiguous)"
            )
            params["ambiguous"] = AMBIGUOUS_PATTERN
        if self.with_request_form:
            where.append(f"sender_id IN (SELECT sender_id FROM {TABLE} WHERE action_name LIKE :form)")
            params["form"] = "%" + FORM_ACTION_SUFFIX
        if self.fact_id:
            where.append(f"sender_id IN (SELECT sender_id FROM {TABLE} WHERE type_name = 'slot' AND data LIKE :fact)")
            params["fact"] = _slot_pattern(FACT_SLOT, self.fact_id)
        if self.text:
            where.append(
                f"sender_id IN (SELECT sender_id FROM {TABLE} WHERE type_name = 'user' AND lower(data) LIKE :q)"
            )
            params["q"] = "%" + json.dumps(self.text.lower())[1:-1] + "%"
        if self.confidence_below is not None:
            having.append(f"min({confidence_sql}) < :below")
            params["below"] = self.confidence_below
        if self.after is not None:
            having.append("(max(timestamp) < :after_ts OR (max(timestamp) = :after_ts AND sender_id < :after_id))")
            params.update(after_ts=self.after[0], after_id=self.after[1])
        return where, having, params


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
    """Read and purge the conversation log of one tracker-store database."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = engine_for(url)

    def exists(self) -> bool:
        return sa.inspect(self.engine).has_table(TABLE)

    def _confidence_sql(self) -> str:
        """The NLU confidence of a user event, extracted from its JSON in the database's dialect."""
        if self.engine.dialect.name == "postgresql":
            return (
                "CASE WHEN type_name = 'user' THEN "
                "CAST(CAST(data AS json)->'parse_data'->'intent'->>'confidence' AS float) END"
            )
        return (
            "CASE WHEN type_name = 'user' THEN CAST(json_extract(data, '$.parse_data.intent.confidence') AS REAL) END"
        )

    def list(self, filters: ConversationFilters, page_size: int = 50) -> ConversationPage:
        """Conversations by last activity, newest first, with keyset pagination."""
        if not self.exists():  # no conversation yet: Rasa creates the table on its first start
            return ConversationPage([], None)
        confidence = self._confidence_sql()
        where, having, params = filters.clauses(confidence)
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
        facts = self.facts_answered([r["sender_id"] for r in rows])
        for row in rows:
            row["facts"] = sorted(facts.get(row["sender_id"], ()))
            row["last_dt"] = dt.datetime.fromtimestamp(row["last"], dt.timezone.utc)
        cursor = f"{rows[-1]['last']!r}|{rows[-1]['sender_id']}" if more and rows else None
        return ConversationPage(rows, cursor)

    def facts_answered(self, senders: List[str]) -> Dict[str, set]:
        if not senders:
            return {}
        query = sa.text(
            f"SELECT sender_id, data FROM {TABLE} WHERE type_name = 'slot' AND sender_id IN :senders "
            "AND data LIKE :slot"
        ).bindparams(sa.bindparam("senders", expanding=True))
        result: Dict[str, set] = defaultdict(set)
        with self.engine.connect() as connection:
            for sender, data in connection.execute(query, {"senders": senders, "slot": _slot_pattern(FACT_SLOT)}):
                value = json.loads(data).get("value")
                if value:
                    result[sender].add(value)
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

    def dashboard(self, days: int, now: Optional[float] = None) -> Dashboard:
        if not self.exists():  # a console started before any conversation was stored
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
                        f"SELECT DISTINCT sender_id FROM {TABLE} WHERE type_name = 'bot' AND timestamp >= :since AND data LIKE :f"
                    ),
                    {"since": since, "f": FALLBACK_PATTERN},
                ).scalars()
            )
            fact_rows = (
                connection.execute(
                    sa.text(
                        f"SELECT data FROM {TABLE} WHERE type_name = 'slot' AND timestamp >= :since AND data LIKE :s"
                    ),
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

    def user_events_after(self, last_id: int, limit: int) -> List[Tuple[int, Dict[str, Any]]]:
        """(row id, event) of citizens' messages stored after row ``last_id``, oldest first."""
        if not self.exists():
            return []
        query = sa.text(f"SELECT id, data FROM {TABLE} WHERE id > :last AND type_name = 'user' ORDER BY id LIMIT :n")
        with self.engine.connect() as connection:
            rows = connection.execute(query, {"last": last_id, "n": limit}).all()
        return [(row_id, json.loads(data)) for row_id, data in rows]

    def replace_events(self, events: Mapping[int, Mapping[str, Any]]) -> None:
        """Rewrite the stored JSON of the given rows, in one transaction."""
        if not events:
            return
        update = sa.text(f"UPDATE {TABLE} SET data = :data WHERE id = :id")
        with self.engine.begin() as connection:
            connection.execute(update, [{"id": row_id, "data": event_json(e)} for row_id, e in events.items()])

    def purge(self, cutoff: float) -> Tuple[int, int]:
        """Delete whole conversations whose last event is older than `cutoff` (epoch seconds).
        Returns (conversations, events) deleted."""
        if not self.exists():
            return 0, 0
        events = 0
        with self.engine.begin() as connection:
            stale = sa.text(f"SELECT sender_id FROM {TABLE} GROUP BY sender_id HAVING max(timestamp) < :cutoff")
            senders = [row[0] for row in connection.execute(stale, {"cutoff": cutoff})]
            delete = sa.text(f"DELETE FROM {TABLE} WHERE sender_id IN :senders").bindparams(
                sa.bindparam("senders", expanding=True)
            )
            for start in range(0, len(senders), 500):
                events += connection.execute(delete, {"senders": senders[start : start + 500]}).rowcount
        return len(senders), events
