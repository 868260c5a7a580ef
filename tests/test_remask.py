"""`make remask`: conversations stored before free-text masking are masked afterwards (issue #19)."""

from __future__ import annotations

import asyncio
import json

import pytest
import sqlalchemy as sa
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker

import settings
from conversations import remask as remask_module
from conversations.log import event_row
from devtools.databases import throwaway_database
from rasa_addons.tracker_store import MaskingSQLTrackerStore

CLEAR_MESSAGES = [
    "Bonjour, je m'appelle Ondine Kerbrat, j'habite 4 rue des Tanneurs, 35000 Rennes",
    "Qu'est-ce que le SNDS ?",
    "ma fille Capucine est épileptique, ses données sont-elles dedans ?",
    "je suis diabétique, mon médecin voit-il le SNDS ?",
    "merci",
]
SECRETS = ["Ondine", "Kerbrat", "Tanneurs", "35000 Rennes", "Capucine", "épileptique", "diabétique"]


@pytest.fixture(params=["sqlite", "postgresql"])
def old_log(request, tmp_path, monkeypatch):
    """A conversation log as it was stored before this change: citizens' texts in clear."""
    monkeypatch.setattr(settings, "VAR_DIR", tmp_path / "var")
    with throwaway_database(request.param, tmp_path / "conversations.db") as url:
        store = MaskingSQLTrackerStore(url=url)  # creates Rasa's table
        asyncio.run(store.save(DialogueStateTracker.from_events("setup", [ActionExecuted("action_listen")])))
        rows = []
        for i, text in enumerate(CLEAR_MESSAGES):
            user = {
                "event": "user",
                "timestamp": 1000.0 + i,
                "text": text,
                "parse_data": {"text": text, "intent": {"name": "faq", "confidence": 0.9}, "entities": []},
            }
            bot = {"event": "bot", "timestamp": 1000.5 + i, "text": "Réponse sur le cancer du sein.", "data": {}}
            rows += [event_row("old-citizen", "user", user), event_row("old-citizen", "bot", bot)]
        with sa.create_engine(url).begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                    "VALUES (:sender_id, :type_name, :timestamp, :intent_name, :action_name, :data)"
                ),
                rows,
            )
        yield url


def _stored(url):
    with sa.create_engine(url).connect() as connection:
        return [
            (t, json.loads(d))
            for t, d in connection.execute(
                sa.text("SELECT type_name, data FROM events WHERE sender_id = 'old-citizen' ORDER BY id")
            )
        ]


def test_remask_is_batch_wise_resumable_and_idempotent(old_log):
    first = remask_module.remask(old_log, batch=2, max_batches=1)  # stopped after one batch
    assert first.examined == 2 and first.resumed_from == 0
    texts = [e["text"] for t, e in _stored(old_log) if t == "user"]
    assert "[nom masqué]" in texts[0] and "Kerbrat" not in texts[0]
    assert "épileptique" in texts[2], "the third message waits for the next batch"

    second = remask_module.remask(old_log, batch=2)
    assert second.resumed_from == first.last_id
    assert second.examined == len(CLEAR_MESSAGES) - 2

    stored = _stored(old_log)
    dumped = json.dumps([e for t, e in stored if t == "user"], ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in dumped, secret
    user_events = [e for t, e in stored if t == "user"]
    assert all(e["parse_data"]["text"] == e["text"] for e in user_events)
    assert user_events[1]["text"] == "Qu'est-ce que le SNDS ?"
    assert [e["text"] for t, e in stored if t == "bot"] == ["Réponse sur le cancer du sein."] * len(CLEAR_MESSAGES)

    again = remask_module.remask(old_log, batch=2, restart=True)
    assert again.examined == len(CLEAR_MESSAGES) and again.changed == 0, "masking masked text changes nothing"
    assert _stored(old_log) == stored


def test_a_change_of_the_masking_rules_starts_over(old_log, monkeypatch):
    remask_module.remask(old_log, batch=10)
    assert remask_module.remask(old_log, batch=10).examined == 0, "nothing new since the last run"
    monkeypatch.setattr(remask_module, "masking_version", lambda: "new-rules")
    assert remask_module.remask(old_log, batch=10).examined == len(CLEAR_MESSAGES)
