"""Per-conversation summaries of the conversation log (issue #20: the console's speed).

Listing, filtering and counting conversations by aggregating every stored event cost the
console about 0.8 s a page (2 s for the dashboard) on 100,000 conversations, on every page
alike. The tables of storage.schema's `conversation_log_metadata` hold those aggregates
instead, beside Rasa's `events` table in the same database: one row per conversation (last
and first activity, turns, fallbacks, hesitations, request forms, lowest confidence), one row
per fact given, one per fallback with the question it left unanswered, and the masked text of
every citizen message for full-text search (PostgreSQL `french` configuration, SQLite FTS5).
Only masked text ever gets there: the same masked events the tracker store writes.

This module knows what a summary holds and how events change it (`fold`), and writes the rows
(`write`, `update`, `delete`). conversations.log, the only reader of the `events` table, feeds
it: the tracker store's save (same transaction as the events), `make remask` and `make purge`
(same transaction as their changes), and the rebuild of conversations stored before these
tables existed. `python -m conversations.summary` rebuilds every summary from the stored events.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from storage.schema import (
    CONVERSATION_TEXTS_FTS,
    TEXT_SEARCH_CONFIGURATION,
    conversation_facts,
    conversation_fallbacks,
    conversation_log_metadata,
    conversation_summaries,
    conversation_texts,
)

FACT_SLOT = "last_fact_id"  # set by the fact action: which fact a conversation was given
FORM_ACTION_SUFFIX = "_request_form"
AMBIGUOUS = "ambiguous"  # custom.fallback of « Vouliez-vous dire… ? »
SIDE_TABLES = (conversation_facts, conversation_fallbacks, conversation_texts)
MAX_SEARCH_WORDS = 10
MIN_PREFIX = 3  # shorter words are searched whole
_WORD = re.compile(r"[^\W_]+")  # letters and digits: nothing a search syntax could read as an operator


@dataclass
class Summary:
    """One row of `conversation_summaries`."""

    sender_id: str
    first_at: Optional[float] = None
    last_at: Optional[float] = None
    turns: int = 0
    fallbacks: int = 0
    fallback_reason: Optional[str] = None
    hesitations: int = 0
    forms: int = 0
    lowest_confidence: Optional[float] = None
    pending_question: Optional[str] = None
    pending_at: Optional[float] = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Summary":
        return cls(**{f.name: row[f.name] for f in fields(cls)})


@dataclass
class SideRows:
    """Rows of the other tables that a run of events adds."""

    facts: List[Dict[str, Any]] = field(default_factory=list)
    fallbacks: List[Dict[str, Any]] = field(default_factory=list)
    texts: List[Dict[str, Any]] = field(default_factory=list)


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def fold(summary: Summary, events: Iterable[Mapping[str, Any]], side: SideRows) -> None:
    """Add stored events, in storage order, to their conversation's summary.

    Each event is a row of the `events` table as conversations.log.event_row() builds it
    (`type_name`, `timestamp`, `action_name`) with `event`, the masked event as a dict."""
    sender = summary.sender_id
    for row in events:
        kind, data = row["type_name"], row["event"]
        at = _number(row.get("timestamp"))
        if at is not None:
            summary.first_at = at if summary.first_at is None else min(summary.first_at, at)
            summary.last_at = at if summary.last_at is None else max(summary.last_at, at)
        if (row.get("action_name") or "").endswith(FORM_ACTION_SUFFIX):  # form actions and active loops
            summary.forms += 1
        if kind == "user":
            summary.turns += 1
            parse = data.get("parse_data") if isinstance(data.get("parse_data"), dict) else {}
            intent = parse.get("intent") if isinstance(parse.get("intent"), dict) else {}
            confidence = _number(intent.get("confidence"))
            if confidence is not None and (summary.lowest_confidence is None or confidence < summary.lowest_confidence):
                summary.lowest_confidence = confidence
            text = data.get("text") if isinstance(data.get("text"), str) else ""
            summary.pending_question, summary.pending_at = (text.strip().lower() or None), at
            if text.strip():
                side.texts.append({"sender_id": sender, "text": text})
        elif kind == "bot":
            payload = data.get("data") if isinstance(data.get("data"), dict) else {}
            custom = payload.get("custom") if isinstance(payload.get("custom"), dict) else {}
            reason = custom.get("fallback")
            if reason:
                reason = str(reason)[:40]
                summary.fallbacks += 1
                summary.fallback_reason = reason
                summary.hesitations += int(reason == AMBIGUOUS)
                side.fallbacks.append(
                    {
                        "sender_id": sender,
                        "at": at,
                        "reason": reason,
                        "question": summary.pending_question,
                        "question_at": summary.pending_at if summary.pending_question else None,
                    }
                )
                summary.pending_question, summary.pending_at = None, None
        elif kind == "slot" and data.get("name") == FACT_SLOT and data.get("value"):
            side.facts.append({"sender_id": sender, "fact_id": str(data["value"])[:100], "at": at})


# --- Writing -----------------------------------------------------------------------------------
def load(connection: Connection, sender_id: str) -> Optional[Summary]:
    """The conversation's summary, locked until the transaction ends (PostgreSQL)."""
    row = (
        connection.execute(
            sa.select(conversation_summaries).where(conversation_summaries.c.sender_id == sender_id).with_for_update()
        )
        .mappings()
        .first()
    )
    return Summary.from_row(row) if row is not None else None


def _insert_side_rows(connection: Connection, side: SideRows) -> None:
    for table, rows in zip(SIDE_TABLES, (side.facts, side.fallbacks, side.texts), strict=True):
        if rows:
            connection.execute(table.insert(), rows)


def update(connection: Connection, summary: Summary, side: SideRows) -> None:
    """Store a summary read with `load` and changed by `fold`, with the rows it added."""
    values = asdict(summary)
    del values["sender_id"]
    connection.execute(
        conversation_summaries.update().where(conversation_summaries.c.sender_id == summary.sender_id), values
    )
    _insert_side_rows(connection, side)


def write(connection: Connection, summaries: Sequence[Summary], side: SideRows) -> None:
    """Store new summaries (after `delete` of the same conversations), with their rows.

    An upsert, so that a conversation whose first save races with a rebuild is not refused."""
    if not summaries:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(conversation_summaries)
    columns = [f.name for f in fields(Summary) if f.name != "sender_id"]
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=["sender_id"], set_={name: getattr(insert.excluded, name) for name in columns}
        ),
        [asdict(s) for s in summaries],
    )
    _insert_side_rows(connection, side)


def delete(connection: Connection, senders: Sequence[str]) -> None:
    """Remove conversations' summaries and their rows (a purge, or before a rebuild)."""
    if not senders:
        return
    for table in (*SIDE_TABLES, conversation_summaries):
        connection.execute(table.delete().where(table.c.sender_id.in_(list(senders))))


# --- Schema ------------------------------------------------------------------------------------
def missing(connection: Connection) -> bool:
    return not sa.inspect(connection).has_table(conversation_summaries.name)


def create(connection: Connection) -> None:
    """Create the tables, their indexes and the search index (storage.schema)."""
    conversation_log_metadata.create_all(connection)


# --- Reading: text search ----------------------------------------------------------------------
# On PostgreSQL, a search for words found in many conversations walks the conversations newest
# first and stops at the page's last one; a search for rare words finds their messages first.
# The planner cannot tell them apart for prefix searches (a missing word walked all 100,000
# conversations: 2.8 s), so the number of conversations among the first matching messages decides.
DENSE_SEARCH_MESSAGES = 5000
DENSE_SEARCH_CONVERSATIONS = 1000


def search_words(text: Optional[str]) -> List[str]:
    return _WORD.findall((text or "").lower())[:MAX_SEARCH_WORDS]


class TextSearch:
    """The console's text search: conversations with a citizen message holding every word, each
    as a prefix (from three characters on). Words are letters and digits only, so the search
    syntax never sees an operator. PostgreSQL stems them with its French configuration and
    ignores its stop words; SQLite's FTS5 folds case and accents."""

    def __init__(self, dialect: str, text: Optional[str]) -> None:
        self.dialect = dialect
        self.words = search_words(text)

    def __bool__(self) -> bool:
        return bool(self.words)

    @property
    def params(self) -> Dict[str, str]:
        # A word of one or two characters is matched whole: as a prefix it matches nearly anything.
        if self.dialect == "postgresql":
            return {"words": " & ".join(word + (":*" if len(word) >= MIN_PREFIX else "") for word in self.words)}
        return {"words": " AND ".join(f'"{word}"' + ("*" if len(word) >= MIN_PREFIX else "") for word in self.words)}

    def _match(self, alias: str = "") -> str:
        prefix = f"{alias}." if alias else ""
        return (
            f"to_tsvector('{TEXT_SEARCH_CONFIGURATION}', {prefix}text) "
            f"@@ to_tsquery('{TEXT_SEARCH_CONFIGURATION}', :words)"
        )

    def _matches(self) -> str:
        """SQL: the sender_id of every matching message."""
        table = conversation_texts.name
        if self.dialect == "postgresql":
            return f"SELECT sender_id FROM {table} WHERE {self._match()}"
        return (
            f"SELECT sender_id FROM {table} WHERE id IN "
            f"(SELECT rowid FROM {CONVERSATION_TEXTS_FTS} WHERE {CONVERSATION_TEXTS_FTS} MATCH :words)"
        )

    def density(self) -> Optional[str]:
        """SQL counting the conversations among the first matching messages (PostgreSQL only)."""
        if self.dialect != "postgresql":
            return None
        return f"SELECT count(DISTINCT sender_id) FROM ({self._matches()} LIMIT {DENSE_SEARCH_MESSAGES}) AS found"

    def clause(self, dense: bool = False) -> str:
        """A condition on `conversation_summaries` rows."""
        if self.dialect != "postgresql":
            # The matches once, then the conversations newest first along their index ("+" keeps
            # SQLite from sorting every matching conversation instead).
            return f"+sender_id IN ({self._matches()})"
        if dense:  # a match turns up within the first conversations walked
            return (
                f"EXISTS (SELECT 1 FROM {conversation_texts.name} AS t "
                f"WHERE t.sender_id = {conversation_summaries.name}.sender_id AND {self._match('t')})"
            )
        return f"sender_id IN ({self._matches()} OFFSET 0)"  # OFFSET 0: found first, whatever the estimate


def main() -> int:
    import settings
    from conversations.log import ConversationLog

    parser = argparse.ArgumentParser(description="Rebuild the conversation summaries from the stored events.")
    parser.add_argument("--batch", type=int, default=500, help="conversations per transaction (default 500)")
    args = parser.parse_args()
    log = ConversationLog(settings.tracker_store_url())
    if not log.exists():
        print("No conversation stored yet: nothing to summarise.")
        return 0
    count = log.rebuild_summaries(batch=max(1, args.batch))
    print(f"Rebuilt the summaries of {count} conversations.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
