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


def confirm_with_code(say, mail_dir, address):
    """Confirm a request's summary, then type the code the assistant e-mailed to `address`, as a
    citizen does; return the replies to the code (the confirmation of the recorded request)."""
    from devtools.mailbox import latest_code

    replies = say("/affirm")
    assert "code à 6 chiffres" in texts(replies), replies
    assert form_step(replies)["name"].endswith("_request_form"), replies
    return say(latest_code(mail_dir, address))
