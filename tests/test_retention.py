"""The retention purge removes old conversations and never a request."""

from __future__ import annotations

import asyncio
import time

import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from conversations.retention import purge
from gdpr.requests import RequestRepository
from rasa_addons.tracker_store import MaskingSQLTrackerStore
from tests.verified_drafts import submit_verified


def test_purge_keeps_recent_conversations_and_all_requests(tmp_path):
    tracker_url = f"sqlite:///{tmp_path / 'conversations.db'}"
    app_url = f"sqlite:///{tmp_path / 'app.db'}"
    store = MaskingSQLTrackerStore(domain=Domain.empty(), url=tracker_url)
    now = time.time()
    for sender, age_days in [("old", 120), ("recent", 10)]:
        stamp = now - age_days * 86400
        events = [ActionExecuted("action_listen", timestamp=stamp), UserUttered("bonjour", timestamp=stamp + 1)]
        asyncio.run(store.save(DialogueStateTracker.from_events(sender, events)))
    repo = RequestRepository(app_url)
    for slot, value in {
        "data_scope": "hdh_project",
        "first_name": "A",
        "last_name": "B",
        "email": "a@example.fr",
    }.items():
        repo.save_answer("old", "access", slot, value)
    submit_verified(repo, "old")
    repo.save_answer("abandoned", "erasure", "first_name", "Zoé")

    result = purge(now=now, retention_days=90, tracker_store_url=tracker_url, database_url=app_url)
    assert (result.conversations, result.events) == (1, 2)
    with sa.create_engine(tracker_url).connect() as connection:
        senders = {r[0] for r in connection.execute(sa.text("SELECT DISTINCT sender_id FROM events"))}
    assert senders == {"recent"}
    assert repo.count() == 1
    assert (
        purge(now=now + 30 * 86400, retention_days=90, tracker_store_url=tracker_url, database_url=app_url).drafts == 1
    )
    with repo.engine.connect() as connection:
        verifications = connection.execute(sa.text("SELECT count(*) FROM email_verifications")).scalar_one()
    assert verifications == 0, "the proof of an address goes with the drafts, after DRAFT_RETENTION_DAYS"
