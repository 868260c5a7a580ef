"""Requests written straight into gdpr_requests (with their first history row), as the assistant
records them: tests of the console and of the lifecycle do not depend on the chat-side steps
(drafts, e-mail verification, submission) that gdpr.requests.RequestRepository.submit runs."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Optional

import settings
from gdpr.deadlines import legal_deadline, paris_date
from gdpr.kinds import CONTROLLERS
from gdpr.requests import STATUS_RECEIVED, RequestRepository, StoredRequest, format_reference
from storage.schema import gdpr_requests, request_status_changes

UNSET = object()


def insert_request(
    url_or_repo,
    *,
    kind: str = "erasure",
    data_scope: str = "hdh_project",
    first_name: str = "Jeanne",
    last_name: str = "Dupont",
    email: str = "jeanne@example.fr",
    received_at: Optional[dt.datetime] = None,
    deadline=UNSET,
    **answers: str,
) -> StoredRequest:
    """Store a request « reçue »; its deadline is set as the DEADLINE_STARTS_ON mode says
    (one month from recording in `verification` mode, none yet in `transmission` mode)."""
    repo = url_or_repo if isinstance(url_or_repo, RequestRepository) else RequestRepository(url_or_repo)
    received = (received_at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    if deadline is UNSET:
        deadline = legal_deadline(paris_date(received)) if settings.deadline_starts_on() == "verification" else None
    with repo.engine.begin() as connection:
        request_id = connection.execute(
            gdpr_requests.insert().values(
                reference=f"PENDING-{uuid.uuid4().hex[:12]}",
                kind=kind,
                status=STATUS_RECEIVED,
                data_scope=data_scope,
                controller=CONTROLLERS[data_scope],
                first_name=first_name,
                last_name=last_name,
                email=email,
                received_at=received,
                deadline=deadline,
                initial_deadline=deadline,
                updated_at=received,
                sender_id=f"test-{uuid.uuid4().hex[:8]}",
                submission_key=uuid.uuid4().hex,
                letter_key=secrets.token_urlsafe(24),
                **answers,
            )
        ).inserted_primary_key[0]
        reference = format_reference(received.year, request_id)
        connection.execute(gdpr_requests.update().where(gdpr_requests.c.id == request_id).values(reference=reference))
        connection.execute(
            request_status_changes.insert().values(
                request_id=request_id,
                old_status=None,
                new_status=STATUS_RECEIVED,
                changed_by="assistant",
                changed_at=received,
            )
        )
    return repo.find_by_reference(reference)
