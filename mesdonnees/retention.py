"""Purge conversation logs older than the retention period (``make purge``).

Deletes whole conversations whose last event is older than CONVERSATION_RETENTION_DAYS
(default 90) from Rasa's tracker store, and abandoned request drafts older than
DRAFT_RETENTION_DAYS (default 7). Stored requests and their audit trail are never touched.
Safe to run as a scheduled job (cron, systemd timer, Kubernetes CronJob).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from dataclasses import dataclass

import sqlalchemy as sa

from mesdonnees import settings
from mesdonnees.database import engine_for
from mesdonnees.requests_repository import RequestRepository, request_drafts


@dataclass(frozen=True)
class PurgeResult:
    conversations: int
    events: int
    drafts: int


def purge(now: float | None = None, retention_days: int | None = None,
          tracker_store_url: str | None = None, database_url: str | None = None) -> PurgeResult:
    now = time.time() if now is None else now
    days = settings.conversation_retention_days() if retention_days is None else retention_days
    cutoff = now - days * 86400
    tracker_engine = engine_for(tracker_store_url or settings.tracker_store_url())
    conversations = events = 0
    if sa.inspect(tracker_engine).has_table("events"):
        with tracker_engine.begin() as connection:
            stale = sa.text(
                "SELECT sender_id FROM events GROUP BY sender_id HAVING max(timestamp) < :cutoff"
            )
            senders = [row[0] for row in connection.execute(stale, {"cutoff": cutoff})]
            for start in range(0, len(senders), 500):
                chunk = senders[start:start + 500]
                result = connection.execute(
                    sa.text("DELETE FROM events WHERE sender_id IN :senders").bindparams(
                        sa.bindparam("senders", expanding=True)
                    ),
                    {"senders": chunk},
                )
                events += result.rowcount
            conversations = len(senders)
    draft_days = int(os.environ.get("DRAFT_RETENTION_DAYS", "7"))
    draft_cutoff = dt.datetime.fromtimestamp(now - draft_days * 86400, dt.timezone.utc)
    repo = RequestRepository(database_url or settings.database_url())
    with repo.engine.begin() as connection:
        drafts = connection.execute(request_drafts.delete().where(request_drafts.c.updated_at < draft_cutoff)).rowcount
    return PurgeResult(conversations, events, drafts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, help="retention in days (default: CONVERSATION_RETENTION_DAYS or 90)")
    args = parser.parse_args()
    result = purge(retention_days=args.days)
    print(
        f"Purged {result.conversations} conversations ({result.events} events) and "
        f"{result.drafts} abandoned request drafts; requests are kept."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
