"""Copy standard input to a log file that rotates by size (``make run``'s server logs).

    some-server 2>&1 | python scripts/rotating_log.py var/logs/rasa.log

Keeps the file under LOG_MAX_BYTES (default 10 MiB) and LOG_BACKUPS older files (default 5):
``rasa.log``, ``rasa.log.1`` … ``rasa.log.5``, created readable by their owner only. Lines are
written as they arrive, so ``tail -f`` keeps working; a line is never split across files.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def rotate(path: Path, backups: int) -> None:
    for index in range(backups, 0, -1):
        older = path.with_name(f"{path.name}.{index}")
        newer = path if index == 1 else path.with_name(f"{path.name}.{index - 1}")
        if newer.exists():
            if index == backups and older.exists():
                older.unlink()
            newer.replace(older)
    if backups == 0 and path.exists():
        path.unlink()


def open_log(path: Path):
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return os.fdopen(descriptor, "ab", buffering=0)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(argv[1])
    max_bytes = int(os.environ.get("LOG_MAX_BYTES", str(10 * 1024 * 1024)))
    backups = int(os.environ.get("LOG_BACKUPS", "5"))
    log = open_log(path)
    size = path.stat().st_size
    for line in sys.stdin.buffer:
        if size and size + len(line) > max_bytes:
            log.close()
            rotate(path, backups)
            log = open_log(path)
            size = 0
        log.write(line)
        size += len(line)
    log.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
