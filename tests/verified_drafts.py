"""Submitting a draft in tests whose subject is not the e-mail verification: the draft's address
is recorded as proven (the row a typed code leaves, gdpr.verification), then the draft submitted
through the real RequestRepository.submit. tests/test_email_verification.py and the end-to-end
tests prove addresses the citizen's way, with a code read from the Maildir."""

from __future__ import annotations

import datetime as dt

from gdpr.requests import RequestRepository, StoredRequest
from storage.schema import email_verifications


def mark_verified(repo: RequestRepository, sender_id: str) -> None:
    draft = repo.get_draft(sender_id)
    now = dt.datetime.now(dt.timezone.utc)
    with repo.engine.begin() as connection:
        connection.execute(
            email_verifications.insert().values(
                sender_id=sender_id,
                submission_key=draft.submission_key,
                email=draft.answers["email"].strip().casefold(),
                code_hash="-",  # matches no code: this row only records a proof
                sent_at=now,
                expires_at=now,
                attempts=1,
                verified_at=now,
            )
        )


def submit_verified(repo: RequestRepository, sender_id: str, **kwargs) -> StoredRequest:
    mark_verified(repo, sender_id)
    return repo.submit(sender_id, **kwargs)
