"""Reading the REST channel's reply elements in end-to-end tests."""

from __future__ import annotations

import uuid


def new_sender(prefix: str = "e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def customs(replies):
    return [r["custom"] for r in replies if "custom" in r]


def texts(replies):
    return " ".join(r.get("text", "") for r in replies)


def form_step(replies):
    return next((p["form"] for p in customs(replies) if "form" in p), None)
