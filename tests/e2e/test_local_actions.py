"""Fact answers and fallbacks run in the Rasa server (rasa_addons.local_actions), and a citizen
cannot tell: replies and stored events are those the action server gives (RASA_SPEEDUPS=0),
compared on one model, message by message."""

from __future__ import annotations

import re

import pytest

from devtools.servers import RasaServer
from tests.e2e.replies import customs, new_sender
from tests.e2e.test_metrics import scrape, value

pytestmark = pytest.mark.servers

ANSWER_ID = re.compile(r"[0-9a-f]{12}")
# Fact questions, a suggestion button, a medical question, noise, and phrasings among which the
# model hesitates (« Vouliez-vous dire… ? ») or is unsure of a wish.
MESSAGES = [
    "Combien de temps mes données restent-elles dans le SNDS ?",
    '/ask_fact{"fact_id":"consent"}',
    "j'ai mal au ventre depuis hier, que dois-je prendre ?",
    "qsdfjklm azerty",
]
HESITANT_CANDIDATES = [
    "données",
    "mes données santé",
    "supprimer",
    "le hub et le snds",
    "droit",
    "effacer ou corriger",
    "qui",
    "microsoft snds",
]


@pytest.fixture(scope="module")
def remote_assistant(servers_dir, action_server, app_database_url, tmp_path_factory):
    """The same model and action server, every custom action sent to the action server."""
    store = tmp_path_factory.mktemp("remote-actions") / "conversations.db"
    server = RasaServer(
        servers_dir,
        action_url=action_server.url,
        tracker_store_url=f"sqlite:///{store}",
        env={"DATABASE_URL": app_database_url, "RATE_LIMIT_PER_MINUTE": "100000", "RASA_SPEEDUPS": "0"},
    ).start()
    yield server
    server.stop()


def hesitant_message(assistant) -> str:
    for text in HESITANT_CANDIDATES:
        parsed = assistant.parse(text)
        if parsed["intent"]["name"] == "nlu_fallback" and parsed.get("candidates"):
            return text
    raise AssertionError(f"the model hesitates on none of {HESITANT_CANDIDATES}")


def without_answer_ids(value):
    """Feedback answer ids are random per answer: compared by shape only."""
    if isinstance(value, str):
        return ANSWER_ID.sub("<answer-id>", value)
    if isinstance(value, (list, tuple)):
        return type(value)(without_answer_ids(v) for v in value)
    if isinstance(value, dict):
        return {k: without_answer_ids(v) for k, v in value.items()}
    return value


def turn_events(tracker: dict) -> list:
    """What the turn stored: bot utterances (text, data, metadata), slots and actions run."""
    kept = []
    for event in tracker["events"]:
        if event["event"] == "bot":
            kept.append(("bot", event.get("text"), event.get("data"), event.get("metadata")))
        elif event["event"] == "slot":
            kept.append(("slot", event["name"], event["value"]))
        elif event["event"] == "action":
            kept.append(("action", event["name"]))
        elif event["event"] == "user":
            kept.append(("user", event["text"], event["parse_data"]["intent"]["name"]))
    return without_answer_ids(kept)


def test_local_actions_reply_and_store_what_the_action_server_does(assistant, remote_assistant):
    messages = [*MESSAGES, hesitant_message(assistant)]
    local_sender, remote_sender = new_sender("local"), new_sender("remote")
    kinds = set()
    for message in messages:
        local = assistant.say(local_sender, message)
        remote = remote_assistant.say(remote_sender, message)
        assert local, message
        assert [r.pop("recipient_id") for r in local + remote] == [local_sender] * len(local) + [remote_sender] * len(
            remote
        )
        assert without_answer_ids(local) == without_answer_ids(remote), message
        for payload in customs(local):
            kinds.add("fact" if "fact_id" in payload else payload.get("fallback"))
    assert {"fact", "out_of_scope", "ambiguous"} <= kinds, kinds
    local_events = turn_events(assistant.tracker(local_sender))
    remote_events = turn_events(remote_assistant.tracker(remote_sender))
    assert local_events == remote_events
    assert ("action", "action_answer_fact") in local_events
    assert ("action", "action_answer_fallback") in local_events


def test_only_the_listed_actions_skip_the_action_server(assistant, remote_assistant, action_server):
    """Fact answers and fallbacks are timed by the Rasa server, not the action server; a form's
    actions still go to the action server. With RASA_SPEEDUPS=0 all of them go there."""
    count = "mds_action_seconds_count"
    rasa_before, remote_before, actions_before = (
        scrape(assistant.url),
        scrape(remote_assistant.url),
        scrape(action_server.url),
    )
    sender = new_sender("local")
    assistant.say(sender, "Combien de temps mes données restent-elles dans le SNDS ?")
    assistant.say(sender, "qsdfjklm azerty")
    assistant.say(sender, "/request_erasure")
    assistant.say(sender, "annuler")
    rasa_after, actions_mid = scrape(assistant.url), scrape(action_server.url)

    def moved(before, after, action):
        return value(after, count, action=action) - value(before, count, action=action)

    assert moved(rasa_before, rasa_after, "action_answer_fact") == 1
    assert moved(rasa_before, rasa_after, "action_answer_fallback") == 1
    assert moved(actions_before, actions_mid, "action_answer_fact") == 0
    assert moved(actions_before, actions_mid, "action_answer_fallback") == 0
    assert moved(actions_before, actions_mid, "action_cancel_request") == 1
    assert moved(rasa_before, rasa_after, "action_cancel_request") == 0

    remote_sender = new_sender("remote")
    remote_assistant.say(remote_sender, "Combien de temps mes données restent-elles dans le SNDS ?")
    remote_after, actions_after = scrape(remote_assistant.url), scrape(action_server.url)
    assert moved(actions_mid, actions_after, "action_answer_fact") == 1
    assert moved(remote_before, remote_after, "action_answer_fact") == 0
