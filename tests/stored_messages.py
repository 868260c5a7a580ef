"""Messages to the team written straight into team_messages (with their « reçu » event, and an
answer when asked), as the assistant records them: console tests do not depend on the chat-side
steps (draft, e-mail verification, submission) that team_inbox.messages.TeamInbox.submit runs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Optional, Sequence

from gdpr.requests import RequestRepository
from storage.schema import team_message_events, team_messages
from team_inbox.messages import STATUS_ANSWERED, STATUS_NEW, TeamInbox, TeamMessage, format_reference


def insert_message(
    url_or_repo,
    *,
    question: str = "Mes données du SNDS servent-elles à des projets de recherche ?",
    email: str = "jeanne@example.fr",
    created_at: Optional[dt.datetime] = None,
    status: str = STATUS_NEW,
    sender_id: Optional[str] = None,
    answered_at: Optional[Sequence[dt.datetime]] = None,
    answer: str = "Voici notre réponse.",
    answered_by: str = "agent.dpo",
) -> TeamMessage:
    """Store a message (status `status`, « nouveau » by default). `answered_at`: the moments of
    its answers, each with its « répondu » event; the last one is the message's answered_at, and
    the status becomes « répondu » unless another one is given."""
    repo = url_or_repo if isinstance(url_or_repo, RequestRepository) else RequestRepository(url_or_repo)
    created = (created_at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    answers = list(answered_at or [])
    if answers and status == STATUS_NEW:
        status = STATUS_ANSWERED
    with repo.engine.begin() as connection:
        message_id = connection.execute(
            team_messages.insert().values(
                reference=f"PENDING-{uuid.uuid4().hex[:12]}",
                sender_id=sender_id or f"test-{uuid.uuid4().hex[:8]}",
                submission_key=uuid.uuid4().hex,
                question=question,
                email=email,
                status=status,
                assigned_to=answered_by if answers else None,
                answer=answer if answers else None,
                answered_by=answered_by if answers else None,
                answered_at=answers[-1] if answers else None,
                created_at=created,
                updated_at=answers[-1] if answers else created,
            )
        ).inserted_primary_key[0]
        reference = format_reference(created.year, message_id)
        connection.execute(team_messages.update().where(team_messages.c.id == message_id).values(reference=reference))
        events = [("reçu", "assistant", created)] + [("répondu", answered_by, moment) for moment in answers]
        for action, operator, moment in events:
            connection.execute(
                team_message_events.insert().values(
                    message_id=message_id,
                    action=action,
                    detail=answer if action == "répondu" else None,
                    operator=operator,
                    created_at=moment,
                )
            )
    return TeamInbox(repo).get(reference)
