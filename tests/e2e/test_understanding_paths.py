"""Through the real servers: forms start only on a wish, hesitation is asked, off-topic is answered
on purpose (issue #15, SPEC §3.2)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.replies import customs, form_step, new_sender, texts

pytestmark = pytest.mark.servers

OFF_TOPIC_MESSAGES = (
    "je cherche un emploi dans la santé",
    "quel temps fera-t-il demain à Brest ?",
    "raconte moi une blague",
    "ma carte vitale ne marche plus",
    "comment déclarer mes impôts",
    "j'ai mal au dos depuis trois jours",
    "qui va gagner le match ce soir ?",
    "prendre rendez-vous chez un dermato",
)
# Messages between two readings, for the « Vouliez-vous dire… ? » path: the model must hesitate
# on at least one of them (which one depends on the training run).
BORDERLINE = (
    "c'est quoi la procédure pour faire corriger une erreur ?",
    "effacer",
    "mes droits sur le snds et le hub",
    "opposition données",
    "qui décide et qui héberge",
    "données santé recherche accord",
)


@pytest.mark.parametrize("message", OFF_TOPIC_MESSAGES)
def test_an_off_topic_message_never_starts_a_form_nor_gets_a_fact(assistant, message):
    replies = assistant.say(new_sender(), message)
    assert form_step(replies) is None
    assert not any("fact_id" in c for c in customs(replies)), texts(replies)
    assert any("fallback" in c for c in customs(replies))


@pytest.mark.parametrize(
    "question, fact_id",
    [
        ("ai-je le droit de m'opposer ?", "right_objection"),
        ("c'est quoi le droit à l'effacement ?", "right_erasure"),
        ("comment porter plainte auprès de la CNIL ?", "cnil_complaint"),
    ],
)
def test_a_question_about_a_right_gets_the_fact_not_the_form(assistant, question, fact_id):
    replies = assistant.say(new_sender(), question)
    assert form_step(replies) is None
    assert [c.get("fact_id") for c in customs(replies) if "fact_id" in c] == [fact_id]


def test_a_clear_wish_starts_the_form(assistant):
    replies = assistant.say(new_sender(), "je veux faire effacer mes données de santé")
    assert form_step(replies) == {"name": "erasure_request_form", "step": 1, "steps": 6}


def test_hesitation_offers_readings_and_a_click_answers_at_once(assistant):
    for message in BORDERLINE:
        citizen = new_sender()
        replies = assistant.say(citizen, message)
        asked = next((c for c in customs(replies) if c.get("fallback") == "ambiguous"), None)
        if asked is not None:
            break
    else:
        pytest.fail(f"the assistant never hesitated on {BORDERLINE}")
    assert "fact_id" not in asked and form_step(replies) is None
    buttons = [b for r in replies for b in r.get("buttons") or []]
    assert buttons[-1]["payload"] == "/something_else" or buttons[-1]["title"] == "Non, autre chose"
    first = asked["candidates"][0]
    picked = assistant.say(citizen, buttons[0]["payload"])
    if first.endswith("_request_form"):
        assert form_step(picked)["name"] == first
    else:
        assert [c.get("fact_id") for c in customs(picked) if "fact_id" in c] == [first]
        assert buttons[0]["payload"] == "/ask_fact" + json.dumps({"fact_id": first}, separators=(",", ":"))


def test_something_else_gets_the_honest_answer(assistant):
    replies = assistant.say(new_sender(), "/something_else")
    assert customs(replies)[0]["fallback"] == "none_of_these"
    assert form_step(replies) is None


def test_a_reasked_question_does_not_repeat_the_introduction(assistant):
    citizen = new_sender()
    first = assistant.say(citizen, "je veux faire effacer mes données de santé")
    assert "Je vais préparer votre demande d'effacement" in texts(first)
    again = assistant.say(citizen, "je ne sais pas trop")
    assert form_step(again) == {"name": "erasure_request_form", "step": 1, "steps": 6}
    assert "Je vais préparer" not in texts(again)
    assert "Je n'ai pas compris de quelles données il s'agit" in texts(again)
