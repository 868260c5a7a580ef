"""Reading what the local SMTP sink received (mail.sink), for tests and benchmarks: the messages
to one address, oldest first, and the verification code of the latest one."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import List

from mail.sink import last_messages

_CODE = re.compile(r"\b(\d{6})\b")


def messages_to(mail_dir: Path, address: str, subject_contains: str = "") -> List[dict]:
    """Every message delivered to `address` (oldest first), optionally by subject."""
    found = [
        m
        for m in last_messages(Path(mail_dir), limit=100_000)
        if address.casefold() in m["to"].casefold() and subject_contains in m["subject"]
    ]
    return list(reversed(found))


def wait_for_messages(mail_dir: Path, address: str, count: int, subject_contains: str = "", timeout: float = 15):
    """The messages to `address` once there are at least `count` of them (the sender may be busy)."""
    deadline = time.monotonic() + timeout
    while True:
        found = messages_to(mail_dir, address, subject_contains)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def latest_code(mail_dir: Path, address: str) -> str:
    """The code of the latest verification e-mail sent to `address`."""
    codes = messages_to(mail_dir, address, "code de vérification")
    if not codes:
        raise AssertionError(f"no verification e-mail in {mail_dir}")
    match = _CODE.search(codes[-1]["text"])
    if match is None:
        raise AssertionError("the verification e-mail holds no 6-digit code")
    return match.group(1)
