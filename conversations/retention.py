"""Purge conversation logs older than the retention period (``make purge``).

Deletes whole conversations whose last event is older than CONVERSATION_RETENTION_DAYS
(default 90) from Rasa's tracker store, with their summaries and searchable texts
(conversations.summary), and abandoned request drafts older than
DRAFT_RETENTION_DAYS (default 7). Stored requests and their audit trail are never touched.
Safe to run as a scheduled job (cron, systemd timer, Kubernetes CronJob).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from dataclasses import dataclass

import settings
from conversations.log import ConversationLog
from gdpr.requests import RequestRepository
from gdpr.verification import EmailVerification


@dataclass(frozen=True)
class PurgeResult:
    conversations: int
    events: int
    drafts: int


def purge(
    now: float | None = None,
    retention_days: int | None = None,
    tracker_store_url: str | None = None,
    database_url: str | None = None,
) -> PurgeResult:
    now = time.time() if now is None else now
    days = settings.conversation_retention_days() if retention_days is None else retention_days
    log = ConversationLog(tracker_store_url or settings.tracker_store_url())
    conversations, events = log.purge(cutoff=now - days * 86400)
    draft_cutoff = dt.datetime.fromtimestamp(now - settings.draft_retention_days() * 86400, dt.timezone.utc)
    repository = RequestRepository(database_url or settings.database_url())
    drafts = repository.purge_drafts(draft_cutoff)
    # Verification codes (their hashes and addresses) go with the drafts they proved.
    EmailVerification(repository).purge(draft_cutoff)
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
