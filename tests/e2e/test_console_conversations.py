"""Console queries over conversations the real Rasa server stored in SQLite."""

import uuid

import pytest

from tests.console_checks import check_queries

pytestmark = pytest.mark.servers


def test_console_lists_and_filters_real_conversations(assistant, tracker_store_url, app_database_url):
    token = uuid.uuid4().hex[:6]
    fallback, fact, form = f"c-fallback-{token}", f"c-fact-{token}", f"c-form-{token}"
    assistant.say(fallback, assistant.declined_message())
    assistant.say(fact, "Qu'est-ce que le SNDS ?")
    assistant.say(form, "je veux faire effacer mes données")
    assistant.say(form, "annuler")
    check_queries(tracker_store_url, app_database_url, fallback, fact, "snds_presentation", form)
