"""Send the outbox: python -m mail.sender [--once] [--interval 5].

Brings the application database up to date, then sends the due e-mails every `interval`
seconds until SIGTERM or SIGINT. Logs give counts only, never an address.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from sqlalchemy.exc import SQLAlchemyError

from mail.outbox import deliver_due
from metrics import logs
from storage.database import migrate

logger = logging.getLogger("mail.sender")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true", help="send one batch, print the counts and exit")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between two batches (default: 5)")
    args = parser.parse_args(argv)
    logs.configure()

    migrate()
    if args.once:
        result = deliver_due()
        print(f"sent={result['sent']} retry={result['retry']} refused={result['refused']}")
        return 0

    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    logger.info("mail sender started: a batch every %g s", args.interval)
    limit = 50
    while not stop.is_set():
        try:
            result = deliver_due(limit=limit)
        except SQLAlchemyError as error:
            logger.warning("batch skipped: application database unavailable (%s)", type(error).__name__)
            result = None
        if result and any(result.values()):
            logger.info("batch: sent=%d retry=%d refused=%d", result["sent"], result["retry"], result["refused"])
        if result and sum(result.values()) >= limit:
            continue  # more are due: no pause
        stop.wait(args.interval)
    logger.info("mail sender stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
