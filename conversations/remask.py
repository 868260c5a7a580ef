"""Re-apply today's masking to conversations stored earlier (``make remask``).

Conversations stored before free-text masking (names, addresses, health conditions typed
anywhere, issue #19) may hold such data in clear. This command reads citizens' messages in
batches, masks them as the tracker store now does, and rewrites only the rows that change,
with the summaries and searchable texts of their conversations (conversations.summary).

- Idempotent: masked text stays as it is when masked again.
- Batch-wise: one transaction per batch (``--batch``, default 500 rows).
- Resumable: the last row done is recorded under ``var/`` after each batch, with a version of
  the masking rules; a second run continues where the first stopped, and a change of the
  rules (code, lexicon, given names) starts over from the first row. ``--restart`` forces it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import settings
from conversations.log import ConversationLog
from privacy import free_text
from privacy.events import mask_event_dict


def masking_version() -> str:
    """Changes when the masking rules change."""
    digest = hashlib.sha256()
    for path in (Path(free_text.__file__), free_text.HEALTH_TERMS_FILE, free_text.FIRST_NAMES_FILE):
        digest.update(path.read_bytes() if path.exists() else b"-")
    return digest.hexdigest()[:16]


def progress_file(tracker_store_url: str) -> Path:
    key = hashlib.sha256(tracker_store_url.encode("utf-8")).hexdigest()[:12]
    return settings.VAR_DIR / f"remask-{key}.json"


@dataclass(frozen=True)
class RemaskResult:
    examined: int
    changed: int
    last_id: int
    resumed_from: int


def remask(
    tracker_store_url: Optional[str] = None, batch: int = 500, restart: bool = False, max_batches: Optional[int] = None
) -> RemaskResult:
    url = tracker_store_url or settings.tracker_store_url()
    log = ConversationLog(url)
    progress = progress_file(url)
    version = masking_version()
    last_id = 0
    if progress.exists() and not restart:
        saved = json.loads(progress.read_text(encoding="utf-8"))
        if saved.get("version") == version:
            last_id = int(saved.get("last_id", 0))
    resumed_from, examined, changed, batches = last_id, 0, 0, 0
    while max_batches is None or batches < max_batches:
        rows = log.user_events_after(last_id, batch)
        if not rows:
            break
        rewritten = {}
        for row_id, event in rows:
            masked = mask_event_dict(event, ())
            if masked != event:
                rewritten[row_id] = masked
        log.replace_events(rewritten)
        examined += len(rows)
        changed += len(rewritten)
        last_id = rows[-1][0]
        batches += 1
        progress.parent.mkdir(parents=True, exist_ok=True)
        progress.write_text(json.dumps({"version": version, "last_id": last_id}), encoding="utf-8")
    return RemaskResult(examined, changed, last_id, resumed_from)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=500, help="rows per transaction (default 500)")
    parser.add_argument("--restart", action="store_true", help="start again from the first row")
    args = parser.parse_args()
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    result = remask(batch=args.batch, restart=args.restart)
    start = f"resumed after row {result.resumed_from}" if result.resumed_from else "from the first row"
    print(
        f"Re-masked the conversation log ({start}): {result.examined} citizen messages examined, "
        f"{result.changed} rewritten; last row {result.last_id}."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
