"""The conversation log (Rasa's SQL tracker store) never holds personal data in clear."""

from __future__ import annotations

import asyncio
import json

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from devtools.databases import throwaway_database
from privacy.masking import VALUE_MASK
from rasa_addons.tracker_store import MaskingSQLTrackerStore

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


def test_sqlite_log_lets_the_console_read_while_the_assistant_writes(tmp_path):
    """Write-ahead log: an open read transaction (the console) does not block a save."""
    url = f"sqlite:///{tmp_path / 'conversations.db'}"
    store = MaskingSQLTrackerStore(domain=DOMAIN, url=url)
    asyncio.run(store.save(DialogueStateTracker.from_events("a", [ActionExecuted("action_listen")])))
    reader = sa.create_engine(url, connect_args={"timeout": 0.2})
    with reader.connect() as console:
        assert console.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        console.execute(sa.text("BEGIN"))
        before = console.execute(sa.text("SELECT count(*) FROM events")).scalar()
        tracker = DialogueStateTracker.from_events("b", [ActionExecuted("action_listen"), UserUttered("bonjour")])
        asyncio.run(store.save(tracker))  # would wait on the reader's lock, then fail, in rollback-journal mode
        assert console.execute(sa.text("SELECT count(*) FROM events")).scalar() == before  # its snapshot
        console.execute(sa.text("COMMIT"))
    assert len(_rows(url)) == before + 2


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_store_url(request, tmp_path):
    with throwaway_database(request.param, tmp_path / "conversations.db") as url:
        yield url


def _session(sender, start, texts):
    events = [
        ActionExecuted("action_session_start", timestamp=start),
        SessionStarted(timestamp=start + 0.5),
        ActionExecuted("action_listen", timestamp=start + 1),
    ]
    for i, text in enumerate(texts):
        events += [
            UserUttered(text, {"name": "faq", "confidence": 0.9}, timestamp=start + 2 + i),
            BotUttered(f"réponse {i}", timestamp=start + 2.5 + i),
        ]
    return events


@pytest.mark.parametrize("speedups", ["1", "0"])
def test_reads_back_what_rasas_own_store_reads(tracker_store_url, speedups, monkeypatch):
    """The faster queries select exactly the events Rasa's ORM query selects (and RASA_SPEEDUPS=0 uses Rasa's)."""
    monkeypatch.setenv("RASA_SPEEDUPS", speedups)
    ours = MaskingSQLTrackerStore(domain=DOMAIN, url=tracker_store_url)
    rasas = SQLTrackerStore(
        domain=DOMAIN,
        **{
            k: v
            for k, v in {
                "dialect": ours.engine.url.drivername,
                "host": ours.engine.url.host,
                "port": ours.engine.url.port,
                "db": ours.engine.url.database,
                "username": ours.engine.url.username,
            }.items()
            if v is not None
        },
    )
    first = _session("a", 1000.0, ["bonjour", "c'est quoi le SNDS"])
    second = _session("a", 5000.0, ["merci"])
    asyncio.run(ours.save(DialogueStateTracker.from_events("a", first)))
    # as the Rasa server does: read the latest session, add a turn's events, save
    tracker = asyncio.run(ours.retrieve("a"))
    for event in second[:-2]:  # the new session starts in this turn
        tracker.update(event)
    asyncio.run(ours.save(tracker))
    tracker = asyncio.run(ours.retrieve("a"))
    for event in second[-2:]:
        tracker.update(event)
    asyncio.run(ours.save(tracker))
    asyncio.run(
        ours.save(DialogueStateTracker.from_events("no-session", [ActionExecuted("action_listen", timestamp=1.0)]))
    )

    for sender in ("a", "no-session"):
        latest, expected = asyncio.run(ours.retrieve(sender)), asyncio.run(rasas.retrieve(sender))
        assert list(latest.events) == list(expected.events)
        full, expected_full = (
            asyncio.run(ours.retrieve_full_tracker(sender)),
            asyncio.run(rasas.retrieve_full_tracker(sender)),
        )
        assert list(full.events) == list(expected_full.events)
    # the latest session starts at its SessionStarted event (action_session_start is just before)
    assert len(asyncio.run(ours.retrieve("a")).events) == len(second) - 1
    assert len(asyncio.run(ours.retrieve_full_tracker("a")).events) == len(first) + len(second)
    assert asyncio.run(ours.retrieve("nobody")) is None
    # every event stored once: saving again adds nothing
    asyncio.run(ours.save(tracker))
    assert len(_rows(tracker_store_url)) == len(first) + len(second) + 1


def test_sqlite_files_are_private_whatever_the_umask(tmp_path):
    """Conversation logs and requests are readable by their owner only (0600 in a 0700 folder),
    the write-ahead log included."""
    import os
    import stat

    from gdpr.requests import RequestRepository

    folder = tmp_path / "var"
    previous = os.umask(0o022)
    try:
        store = MaskingSQLTrackerStore(domain=DOMAIN, url=f"sqlite:///{folder / 'conversations.db'}")
        tracker = DialogueStateTracker.from_events("c1", [ActionExecuted("action_listen"), UserUttered("bonjour")])
        asyncio.run(store.save(tracker))
        RequestRepository(f"sqlite:///{folder / 'app.db'}").save_answer("c1", "erasure", "first_name", "Ali")
        with store.engine.connect() as connection:  # a live connection keeps the -wal and -shm files
            connection.execute(sa.text("SELECT 1"))
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    finally:
        os.umask(previous)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {"conversations.db", "app.db"} <= set(modes)
    assert {name: mode for name, mode in modes.items() if mode != 0o600} == {}


def test_an_answer_a_form_refused_is_masked_a_question_in_the_form_is_not():
    from rasa_addons.tracker_store import _answers_to_personal_questions, mask_event_dict

    events = [
        SlotSet("requested_slot", "first_name"),
        ActionExecuted("action_listen"),
        UserUttered("Marie-Claire (épouse Dupontel)", {"name": "inform", "confidence": 0.9}),
        SlotSet("first_name", None),
        SlotSet("requested_slot", "first_name"),
        ActionExecuted("action_listen"),
        UserUttered("combien de temps sont conservées les données ?", {"name": "faq", "confidence": 0.95}),
        ActionExecuted("action_answer_fact"),
        SlotSet("requested_slot", "first_name"),
    ]
    answers = _answers_to_personal_questions(events)
    assert answers == {"Marie-Claire (épouse Dupontel)"}
    stored = [mask_event_dict(e.as_dict(), answers) for e in events if isinstance(e, UserUttered)]
    assert "Dupontel" not in json.dumps(stored) and "Marie-Claire" not in json.dumps(stored)
    assert stored[1]["text"] == "combien de temps sont conservées les données ?"
