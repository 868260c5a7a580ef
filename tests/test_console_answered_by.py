"""Which model and which catalogue version answered each message (issue #22), through the real
path: the fact action as the action server runs it, its messages turned into events by Rasa's own
code (RemoteAction._utter_responses) on a tracker carrying the model id as Rasa's processor sets it,
the events saved by the masking SQL tracker store, and the console's transcript page. The reply the
citizen's channel receives is unchanged (SPEC §3.2): the catalogue version stays in the event's
metadata."""

from __future__ import annotations

import asyncio
import html
import json
import re

import pytest
import yaml
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk.executor import CollectingDispatcher

from actions.facts import ActionAnswerFact
from console.accounts import create_operator
from conversations.log import ConversationLog
from rasa_addons.tracker_store import MaskingSQLTrackerStore
from tests.conftest import make_tracker, selector_for
from training.facts import DEFAULT_CATALOGUE_DIR, default_catalogue, load_catalogue
from webapp import create_app

SENDER = "conversation-modele-catalogue"
RELEASED = "a3f09c2be1d84f5e9b7c6d5e4f3a2b1c"  # model ids as Rasa writes them (uuid4 hex)
PREVIOUS = "0b1c2d3e4f5a46b7c8d9e0f1a2b3c4d5"
UNRELEASED = "ffee0011223344556677889900aabbcc"
PASSWORD = "correct horse battery staple"
DOMAIN = Domain.from_yaml('version: "3.1"\nslots:\n  last_fact_id:\n    type: any\n    mappings: []\n')


def fact_answer_events(model_id: str, text: str, fact_id: str):
    """What Rasa logs for one question answered by action_answer_fact under model `model_id`."""
    dispatcher = CollectingDispatcher()
    sdk_tracker = make_tracker("faq", text, response_selector=selector_for(fact_id, 0.95))
    events = asyncio.run(ActionAnswerFact(threshold=0.3).run(dispatcher, sdk_tracker, {}))
    # The action server answers JSON; Rasa's RemoteAction turns each message into a bot event.
    responses = json.loads(json.dumps(dispatcher.messages))
    channel = CollectingOutputChannel()
    tracker = DialogueStateTracker(SENDER, DOMAIN.slots)
    bots = asyncio.run(
        RemoteAction._utter_responses(responses, channel, TemplatedNaturalLanguageGenerator({}), tracker)
    )
    for bot in bots:  # what the processor sends to the citizen's channel (MessageProcessor)
        asyncio.run(channel.send_response(SENDER, bot.message()))
    logged = [
        ActionExecuted("action_listen"),
        UserUttered(text, {"name": "faq", "confidence": 0.95}),
        ActionExecuted("action_answer_fact"),
        *bots,
        *[SlotSet(e["name"], e["value"]) for e in events],
    ]
    return logged, channel.messages


def save(tracker_url: str, model_id: str, events) -> None:
    store = MaskingSQLTrackerStore(domain=DOMAIN, url=tracker_url)
    tracker = asyncio.run(store.retrieve(SENDER)) or DialogueStateTracker(SENDER, DOMAIN.slots)
    tracker.model_id = model_id  # as MessageProcessor does: every event logged gets it in its metadata
    for event in events:
        tracker.update(event)
    asyncio.run(store.save(tracker))


@pytest.fixture
def console(tmp_path, monkeypatch):
    monkeypatch.setenv("MDS_VAR_DIR", str(tmp_path))
    releases = tmp_path / "releases"
    releases.mkdir()
    monkeypatch.setenv("MODEL_RELEASES_DIR", str(releases))
    previous = {"file": "mds-0c2d-0b1c2d3e.tar.gz", "model_id": PREVIOUS}
    current = {"file": "mds-5e6f-a3f09c2b.tar.gz", "model_id": RELEASED}
    (releases / "releases.json").write_text(
        json.dumps(
            {
                "current": current,
                "previous": [previous],
                "history": [
                    {"action": "promote", "model_id": PREVIOUS, "file": previous["file"]},
                    {"action": "promote", "model_id": RELEASED, "file": current["file"]},
                ],
            }
        )
    )
    app_url = f"sqlite:///{tmp_path / 'app.db'}"
    tracker_url = f"sqlite:///{tmp_path / 'conversations.db'}"
    app = create_app(app_url, tracker_url)
    app.config["TESTING"] = True
    create_operator(app.config["REPOSITORY"], "agent.lecteur", PASSWORD, role="lecteur")
    client = app.test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/connexion").get_data(as_text=True)).group(1)
    client.post("/console/connexion", data={"identifiant": "agent.lecteur", "mot_de_passe": PASSWORD, "csrf": token})
    return client, tracker_url


def test_the_transcript_shows_the_model_and_the_catalogue_of_each_answer(console):
    client, tracker_url = console
    version = default_catalogue().version
    first, replies = fact_answer_events(PREVIOUS, "c'est quoi le cloud act", "cloud_act")
    save(tracker_url, PREVIOUS, first)
    second, _ = fact_answer_events(RELEASED, "combien de temps sont gardées mes données", "data_retention")
    save(tracker_url, RELEASED, second)
    third, _ = fact_answer_events(UNRELEASED, "qui héberge les données", "hosting_microsoft")
    save(tracker_url, UNRELEASED, third)

    # The citizen's channel receives the reply as before: no catalogue version, no model id.
    assert replies and all("catalogue_version" not in json.dumps(r) and PREVIOUS not in json.dumps(r) for r in replies)
    assert any((r.get("custom") or {}).get("fact_id") == "cloud_act" for r in replies)

    # Stored: the model id on every message, the catalogue version on the fact answers.
    stored = [event for _, event in ConversationLog(tracker_url).events(SENDER) if event["event"] in ("user", "bot")]
    assert [e["metadata"]["model_id"] for e in stored] == [
        PREVIOUS,
        PREVIOUS,
        RELEASED,
        RELEASED,
        UNRELEASED,
        UNRELEASED,
    ]
    assert [e["metadata"].get("catalogue_version") for e in stored if e["event"] == "bot"] == [version] * 3

    page = html.unescape(client.get(f"/console/conversations/{SENDER}").get_data(as_text=True))
    lines = re.findall(r'<p class="fr-text--sm answered-by">(.*?)</p>', page, re.S)
    plain = [re.sub(r"<[^>]+>", "", line) for line in lines]
    assert plain == [
        "Compris par le modèle mds-0c2d-0b1c2d3e.tar.gz",
        f"Modèle mds-0c2d-0b1c2d3e.tar.gz — catalogue de faits {version}",
        "Compris par le modèle mds-5e6f-a3f09c2b.tar.gz",
        f"Modèle mds-5e6f-a3f09c2b.tar.gz — catalogue de faits {version}",
        f"Compris par le modèle identifiant Rasa {UNRELEASED[:12]}",
        f"Modèle identifiant Rasa {UNRELEASED[:12]} — catalogue de faits {version}",
    ]
    assert f'title="{RELEASED}"' in page


def test_the_catalogue_version_names_what_citizens_read(tmp_path):
    """Stable for the same facts, whatever the YAML layout; changed by a change of an answer,
    not by a change of the example questions (those change the model, which has its own id)."""
    catalogue = default_catalogue()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\.[0-9a-f]{8}", catalogue.version)
    assert catalogue.version.startswith(max(f.verified_on for f in catalogue).isoformat())

    def copy_with(change=None, fact_id="cloud_act"):
        directory = tmp_path / f"catalogue-{len(list(tmp_path.iterdir()))}"
        directory.mkdir()
        for path in DEFAULT_CATALOGUE_DIR.glob("*.yml"):
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            if change and raw["id"] == fact_id:
                change(raw)
            # Another layout: keys sorted, block style, other line widths.
            (directory / path.name).write_text(yaml.safe_dump(raw, allow_unicode=True, width=60), encoding="utf-8")
        return load_catalogue(directory).version

    assert copy_with() == catalogue.version
    assert copy_with(lambda raw: raw["examples"].append("le cloud act me concerne-t-il vraiment")) == catalogue.version
    assert copy_with(lambda raw: raw.update(answer=raw["answer"].replace(".", " !", 1))) != catalogue.version


def test_messages_logged_before_this_change_show_nothing_more(console):
    client, tracker_url = console
    store = MaskingSQLTrackerStore(domain=DOMAIN, url=tracker_url)
    tracker = DialogueStateTracker(SENDER, DOMAIN.slots)
    for event in (UserUttered("bonjour", {"name": "greet", "confidence": 0.9}), BotUttered("Bonjour !")):
        tracker.update(event)
    asyncio.run(store.save(tracker))
    page = client.get(f"/console/conversations/{SENDER}").get_data(as_text=True)
    assert "Bonjour !" in page and "answered-by" not in page.split("<ol")[1]
