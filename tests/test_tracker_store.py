"""The conversation log (Rasa's SQL tracker store) never holds personal data in clear."""
from __future__ import annotations

import asyncio
import json

import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from mesdonnees.pii import VALUE_MASK
from mesdonnees.tracker_store import MaskingSQLTrackerStore

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
slots:
  last_name:
    type: text
    mappings: [{type: from_text}]
  last_fact_id:
    type: text
    mappings: [{type: custom}]
"""
)


class RecordingBroker:
    def __init__(self):
        self.published = []

    def publish(self, event):
        self.published.append(event)


def _rows(url):
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(sa.text("SELECT * FROM events ORDER BY id"))]


def test_events_are_masked_in_the_database_and_the_broker(tmp_path):
    url = f"sqlite:///{tmp_path / 'conversations.db'}"
    broker = RecordingBroker()
    store = MaskingSQLTrackerStore(domain=DOMAIN, url=url, event_broker=broker)
    tracker = DialogueStateTracker.from_events(
        "citizen-1",
        [
            ActionExecuted("action_listen"),
            UserUttered(
                "Dupont, mail dupont@example.fr, tel 06 12 34 56 78, NIR 1 85 05 78 006 084 36",
                {"name": "inform", "confidence": 0.9},
            ),
            SlotSet("last_name", "Dupont"),
            SlotSet("last_fact_id", "consent"),
            BotUttered("Merci Dupont, je note.", {"custom": {"echo": "dupont@example.fr"}}),
        ],
        slots=DOMAIN.slots,
    )
    asyncio.run(store.save(tracker))

    rows = _rows(url)
    dumped = json.dumps(rows, ensure_ascii=False) + json.dumps(broker.published, ensure_ascii=False)
    for secret in ("Dupont", "dupont@example.fr", "06 12 34 56 78", "006 084"):
        assert secret not in dumped
    user_row = next(r for r in rows if r["type_name"] == "user")
    assert json.loads(user_row["data"])["text"].startswith(VALUE_MASK)
    slot_rows = [json.loads(r["data"]) for r in rows if r["type_name"] == "slot"]
    assert {s["name"]: s["value"] for s in slot_rows} == {"last_name": VALUE_MASK, "last_fact_id": "consent"}
    assert len(broker.published) == len(rows) == len(tracker.events)

    # A second save stores only the new events, and retrieval gives the masked history back.
    tracker.update(UserUttered("merci", {"name": "thank", "confidence": 0.9}))
    asyncio.run(store.save(tracker))
    assert len(_rows(url)) == len(tracker.events)
    restored = asyncio.run(store.retrieve("citizen-1"))
    assert restored.get_slot("last_name") == VALUE_MASK
    assert restored.latest_message.text == "merci"


def test_default_url_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    store = MaskingSQLTrackerStore(domain=DOMAIN)
    asyncio.run(store.save(DialogueStateTracker.from_events("x", [ActionExecuted("action_listen")])))
    assert (tmp_path / "env.db").exists()
