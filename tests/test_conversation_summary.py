"""Per-conversation summaries (conversations.summary, issue #20): kept by the tracker store,
searched in masked text only, consistent with purge and remask, built for conversations stored
before them, and listing the same pages as the queries over every event did."""

from __future__ import annotations

import asyncio
import json

import pytest
import sqlalchemy as sa
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

import settings
from conversations import remask as remask_module
from conversations import summary as summary_module
from conversations.log import ConversationFilters, ConversationLog, event_row, rebuild
from conversations.retention import purge
from devtools.databases import throwaway_database
from rasa_addons.tracker_store import MaskingSQLTrackerStore
from storage.database import engine_for
from storage.schema import (
    CONVERSATION_TEXTS_FTS,
    conversation_facts,
    conversation_fallbacks,
    conversation_summaries,
    conversation_texts,
)
from tests.test_tracker_store import DOMAIN  # the same two slots: a personal one and a fact

T0 = 1_790_000_000.0
INSERT_EVENTS = sa.text(
    "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
    "VALUES (:sender_id, :type_name, :timestamp, :intent_name, :action_name, :data)"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "VAR_DIR", tmp_path / "var")  # make remask's progress file
    with throwaway_database(request.param, tmp_path / "conversations.db") as database_url:
        yield database_url
        engine_for(database_url).dispose()


def _user(text, confidence, at, intent="faq"):
    return UserUttered(text, {"name": intent, "confidence": confidence}, timestamp=at)


def _save(store, sender, events, tracker=None):
    tracker = tracker or DialogueStateTracker.from_events(sender, [], slots=DOMAIN.slots)
    for event in events:
        tracker.update(event)
    asyncio.run(store.save(tracker))
    return tracker


def _state(url, sender):
    """Everything the summaries hold about one conversation (row ids aside)."""
    with engine_for(url).connect() as connection:
        row = (
            connection.execute(sa.select(conversation_summaries).where(conversation_summaries.c.sender_id == sender))
            .mappings()
            .one_or_none()
        )

        def rows(table, *columns):
            query = sa.select(*(table.c[c] for c in columns)).where(table.c.sender_id == sender).order_by(table.c.id)
            return [tuple(r) for r in connection.execute(query)]

        return (
            dict(row) if row is not None else None,
            rows(conversation_facts, "fact_id", "at"),
            rows(conversation_fallbacks, "at", "reason", "question", "question_at"),
            rows(conversation_texts, "text"),
        )


def _found(url, text):
    return {r["sender_id"] for r in ConversationLog(url).list(ConversationFilters(text=text), 100).rows}


def _scripted_conversation(store, sender="citizen"):
    """Three saves, as three turns of the Rasa server."""
    tracker = _save(
        store,
        sender,
        [
            ActionExecuted("action_listen", timestamp=T0),
            _user("Qu'est-ce que le SNDS ?", 0.93, T0 + 1),
            SlotSet("last_fact_id", "snds_presentation", timestamp=T0 + 2),
            BotUttered("Le SNDS…", {"custom": {"fact_id": "snds_presentation"}}, timestamp=T0 + 3),
            ActionExecuted("action_listen", timestamp=T0 + 4),
        ],
    )
    _save(
        store,
        sender,
        [
            _user("  Heu, le truc du machin ?  ", 0.21, T0 + 10),
            BotUttered("Je ne suis pas sûr", {"custom": {"fallback": "low_confidence"}}, timestamp=T0 + 11),
            BotUttered("Reformulez ?", {"custom": {"fallback": "low_confidence"}}, timestamp=T0 + 12),
            ActionExecuted("action_listen", timestamp=T0 + 13),
        ],
        tracker,
    )
    _save(
        store,
        sender,
        [
            _user("je veux faire effacer mes données", 0.88, T0 + 20, intent="request_erasure"),
            ActionExecuted("erasure_request_form", timestamp=T0 + 21),
            ActiveLoop("erasure_request_form", timestamp=T0 + 22),
            BotUttered("Quel est votre nom ?", {"custom": {"form": {"step": 1}}}, timestamp=T0 + 23),
            ActionExecuted("action_listen", timestamp=T0 + 24),
            _user("Dupont, dupont@example.fr", 0.6, T0 + 30, intent="inform"),
            SlotSet("last_name", "Dupont", timestamp=T0 + 31),
            BotUttered("Je ne suis pas sûr", {"custom": {"fallback": "ambiguous"}}, timestamp=T0 + 32),
        ],
        tracker,
    )
    return tracker


def test_the_tracker_store_keeps_each_conversations_summary(url):
    store = MaskingSQLTrackerStore(domain=DOMAIN, url=url)
    _scripted_conversation(store)
    row, facts, fallbacks, texts = _state(url, "citizen")
    assert row == {
        "sender_id": "citizen",
        "first_at": T0,
        "last_at": T0 + 32,
        "turns": 4,
        "fallbacks": 3,
        "fallback_reason": "ambiguous",
        "hesitations": 1,
        "forms": 2,  # the form action and its active loop, as the console always counted them
        "lowest_confidence": 0.21,
        "pending_question": None,
        "pending_at": None,
    }
    assert facts == [("snds_presentation", T0 + 2)]
    assert fallbacks[0] == (T0 + 11, "low_confidence", "heu, le truc du machin ?", T0 + 10)
    assert fallbacks[1] == (T0 + 12, "low_confidence", None, None), "one question, counted once"
    assert fallbacks[2][1:] == ("ambiguous", "[masqué], [e-mail masqué]", T0 + 30)
    assert texts == [
        ("Qu'est-ce que le SNDS ?",),
        ("  Heu, le truc du machin ?  ",),
        ("je veux faire effacer mes données",),
        ("[masqué], [e-mail masqué]",),
    ]
    # Folding each save's events gives what the whole conversation gives at once.
    with engine_for(url).begin() as connection:
        rebuild(connection, ["citizen"])
    assert _state(url, "citizen") == (row, facts, fallbacks, texts)
    store.engine.dispose()


def test_the_list_shows_what_the_summary_holds(url):
    store = MaskingSQLTrackerStore(domain=DOMAIN, url=url)
    _scripted_conversation(store)
    _save(store, "other", [ActionExecuted("action_listen", timestamp=T0 + 100), _user("merci", 0.99, T0 + 101)])
    log = ConversationLog(url)
    page = log.list(ConversationFilters())
    assert [r["sender_id"] for r in page.rows] == ["other", "citizen"]
    citizen = page.rows[1]
    assert (citizen["turns"], citizen["facts"], citizen["lowest_confidence"]) == (4, ["snds_presentation"], 0.21)
    assert citizen["fallbacks"] and citizen["forms"]
    for filters in (
        ConversationFilters(with_fallback=True),
        ConversationFilters(with_hesitation=True),
        ConversationFilters(with_request_form=True),
        ConversationFilters(fact_id="snds_presentation"),
        ConversationFilters(confidence_below=0.5),
        ConversationFilters(end=T0 + 50 - 86400),
    ):
        assert [r["sender_id"] for r in log.list(filters).rows] == ["citizen"], filters
    assert log.list(ConversationFilters(fact_id="snds")).rows == [], "a fact is matched whole"
    assert [r["sender_id"] for r in log.list(ConversationFilters(start=T0 + 60)).rows] == ["other"]
    dashboard = log.dashboard(days=30, now=T0 + 200)
    assert (dashboard.total, dashboard.fallback_total) == (2, 1)
    assert dashboard.facts == [("snds_presentation", 1)]
    assert dashboard.unanswered == [("[masqué], [e-mail masqué]", 1), ("heu, le truc du machin ?", 1)], "ties by text"
    store.engine.dispose()


SECRETS = ["Dupont", "dupont@example.fr", "06 12 34 56 78", "0612345678", "1 85 05 78 006 084 36"]


def test_text_search_finds_masked_words_and_never_personal_data(url):
    store = MaskingSQLTrackerStore(domain=DOMAIN, url=url)
    _save(
        store,
        "hosting",
        [
            ActionExecuted("action_listen"),
            _user("Mes données de santé sont-elles hébergées par Microsoft ?", 0.9, None),
        ],
    )
    _save(
        store,
        "personal",
        [
            ActionExecuted("action_listen"),
            _user("Dupont, dupont@example.fr, tel 06 12 34 56 78, NIR 1 85 05 78 006 084 36", 0.9, None),
            SlotSet("last_name", "Dupont"),
            BotUttered("Merci Dupont", {"custom": {"fallback": "low_confidence"}}),
        ],
    )
    for query in ("microsoft", "MICROSOFT", "Microsoft ?", "héberg", "donnée santé", "mes DONNÉES"):
        assert _found(url, query) == {"hosting"}, query
    assert _found(url, "microsoft dupont") == set(), "every word must be in one message"
    assert _found(url, "masqué") == {"personal"}, "what search finds is the masked text"
    assert _found(url, "téléphone") == {"personal"}
    for secret in SECRETS + ["dupont", "example", "006", "12 34"]:
        assert _found(url, secret) == set(), secret
    with engine_for(url).connect() as connection:
        indexed = json.dumps(
            [
                list(map(list, connection.execute(sa.select(table)).all()))
                for table in (conversation_texts, conversation_fallbacks, conversation_summaries)
            ],
            ensure_ascii=False,
        )
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql(
                f"CREATE VIRTUAL TABLE temp.vocabulary USING fts5vocab(main, {CONVERSATION_TEXTS_FTS}, row)"
            )
            terms = set(connection.exec_driver_sql("SELECT term FROM temp.vocabulary").scalars())
            assert "microsoft" in terms and "masque" in terms
            assert not terms & {"dupont", "example", "006", "084", "0612345678", "06"}
    for secret in SECRETS:
        assert secret not in indexed
    store.engine.dispose()


@pytest.mark.parametrize(
    "query", ["' OR 1=1 --", '"', "*", "snds OR", "NEAR(a b)", "^snds", "-snds", "a:*", "!", "(", "%", "_", "\\"]
)
def test_search_syntax_in_the_query_is_harmless(url, query):
    store = MaskingSQLTrackerStore(domain=DOMAIN, url=url)
    _save(store, "c", [ActionExecuted("action_listen"), _user("Qu'est-ce que le SNDS ?", 0.9, None)])
    found = _found(url, query)
    assert found <= {"c"}
    store.engine.dispose()


def test_a_purged_conversation_leaves_the_summaries_and_the_search_index(url, tmp_path):
    store = MaskingSQLTrackerStore(domain=DOMAIN, url=url)
    now = T0 + 200 * 86400
    for sender, age_days, word in (("old", 120, "zanzibar"), ("recent", 10, "tombouctou")):
        at = now - age_days * 86400
        _save(
            store,
            sender,
            [
                ActionExecuted("action_listen", timestamp=at),
                _user(f"question sur {word}", 0.2, at + 1),
                SlotSet("last_fact_id", "cloud_act", timestamp=at + 2),
                BotUttered("?", {"custom": {"fallback": "low_confidence"}}, timestamp=at + 3),
            ],
        )
    assert _found(url, "zanzibar") == {"old"}
    result = purge(now=now, retention_days=90, tracker_store_url=url, database_url=f"sqlite:///{tmp_path / 'app.db'}")
    assert (result.conversations, result.events) == (1, 4)
    assert _state(url, "old") == (None, [], [], [])
    assert _state(url, "recent")[0] is not None
    assert _found(url, "zanzibar") == set() and _found(url, "tombouctou") == {"recent"}
    with engine_for(url).connect() as connection:
        if connection.dialect.name == "sqlite":  # the FTS index itself forgot the text
            matches = connection.exec_driver_sql(
                f"SELECT rowid FROM {CONVERSATION_TEXTS_FTS} WHERE {CONVERSATION_TEXTS_FTS} MATCH 'zanzibar'"
            ).all()
            assert matches == []
    assert [r["sender_id"] for r in ConversationLog(url).list(ConversationFilters()).rows] == ["recent"]
    store.engine.dispose()


CLEAR_MESSAGES = [
    "Bonjour, je m'appelle Ondine Kerbrat, écrivez-moi à ondine.kerbrat@example.fr",
    "Qu'est-ce que le SNDS ?",
    "je suis diabétique, mon médecin voit-il le SNDS ?",
]


def _insert_old_conversation(url, sender, messages, start=1000.0):
    """A conversation as stored before masking (issue #19) and before the summaries: rows
    written straight into Rasa's table, citizens' texts in clear."""
    rows = []
    for i, text in enumerate(messages):
        user = {
            "event": "user",
            "timestamp": start + i,
            "text": text,
            "parse_data": {"text": text, "intent": {"name": "faq", "confidence": 0.5 + i / 10}, "entities": []},
        }
        bot = {"event": "bot", "timestamp": start + i + 0.5, "text": "Pardon ?", "data": {"custom": {"fallback": "x"}}}
        rows += [event_row(sender, "user", user), event_row(sender, "bot", bot)]
    with engine_for(url).begin() as connection:
        connection.execute(INSERT_EVENTS, rows)


def test_remasked_text_is_what_search_finds(url):
    store = MaskingSQLTrackerStore(url=url)
    _insert_old_conversation(url, "old-citizen", CLEAR_MESSAGES)
    assert ConversationLog(url).rebuild_summaries() == 1
    assert _found(url, "kerbrat") == {"old-citizen"}, "before remask, the log holds the clear text"

    remask_module.remask(url, batch=2)
    for secret in ("kerbrat", "ondine", "diabétique", "example"):
        assert _found(url, secret) == set(), secret
    assert _found(url, "masqué") == {"old-citizen"} and _found(url, "snds") == {"old-citizen"}
    _, _, fallbacks, texts = _state(url, "old-citizen")
    dumped = json.dumps([fallbacks, texts], ensure_ascii=False)
    for secret in ("Kerbrat", "kerbrat", "Ondine", "ondine", "diabétique"):
        assert secret not in dumped, secret
    assert fallbacks[0][2].startswith("bonjour, je m'appelle [")
    store.engine.dispose()


def test_conversations_stored_before_the_summaries_are_summarised_on_upgrade(url):
    from rasa.core.tracker_store import SQLTrackerStore

    engine = engine_for(url)
    SQLTrackerStore.Base.metadata.create_all(engine)  # Rasa's table, as an install before issue #20 has it
    _insert_old_conversation(url, "before-1", CLEAR_MESSAGES[1:2], start=T0)
    _insert_old_conversation(url, "before-2", CLEAR_MESSAGES[1:], start=T0 + 100)
    with engine.connect() as connection:
        assert summary_module.missing(connection)

    store = MaskingSQLTrackerStore(domain=DOMAIN, url=url)  # the upgraded server's first start
    row, _, fallbacks, texts = _state(url, "before-2")
    assert (row["turns"], row["fallbacks"], row["first_at"], row["last_at"]) == (2, 2, T0 + 100, T0 + 101.5)
    assert len(texts) == 2 and fallbacks[0][2] == "qu'est-ce que le snds ?"
    listed = ConversationLog(url).list(ConversationFilters())
    assert [r["sender_id"] for r in listed.rows] == ["before-2", "before-1"]

    # A backfilled conversation goes on: its summary is updated, not restarted.
    tracker = asyncio.run(store.retrieve("before-1"))
    _save(store, "before-1", [_user("merci", 0.99, T0 + 500)], tracker)
    assert _state(url, "before-1")[0]["turns"] == 2

    # Events written behind the summaries' back (by hand, by an old server during an upgrade):
    # the next save summarises the whole conversation again; the rebuild command repairs the rest.
    _insert_old_conversation(url, "behind", CLEAR_MESSAGES[1:], start=T0 + 600)
    with engine.begin() as connection:
        connection.execute(conversation_summaries.update().values(turns=99))
        connection.execute(conversation_summaries.insert().values(sender_id="ghost", first_at=T0, last_at=T0, turns=1))
    tracker = asyncio.run(store.retrieve("behind"))
    _save(store, "behind", [_user("merci", 0.99, T0 + 700)], tracker)
    assert _state(url, "behind")[0]["turns"] == 3
    assert ConversationLog(url).rebuild_summaries(batch=2) == 3
    assert {s: _state(url, s)[0]["turns"] for s in ("before-1", "before-2", "behind")} == {
        "before-1": 2,
        "before-2": 2,
        "behind": 3,
    }
    assert _state(url, "ghost")[0] is None, "a summary without events goes"
    store.engine.dispose()


def test_pages_and_dashboard_are_those_the_queries_over_every_event_gave(url):
    """The summaries list the same rows, page after page, as the console's former queries
    (kept in bench/console_queries.py) on synthetic conversations."""
    from bench import console_queries as before

    now = T0 + 91 * 86400
    before.seed(url, 400, now)
    for i in range(10):  # the same last activity: the sender id orders them, across pages too
        _insert_old_conversation(url, f"tie-{i:02d}", ["cloud ?"], start=now - 3600)
    log = ConversationLog(url)
    filters = [
        {},
        {"repli": "1"},
        {"hesitation": "1"},
        {"demande": "1"},
        {"fait": "cloud_act"},
        {"confiance_max": "0.2"},
        {"q": "cloud"},
        {"repli": "1", "confiance_max": "0.5"},
    ]
    expected = {}
    for args in filters:
        pages, cursor = [], None
        while True:
            page = before.legacy_list(log, ConversationFilters.from_args({**args, "apres": cursor or ""}), 7)
            pages.append(before.page_rows(page))
            cursor = page.cursor
            if not cursor:
                break
        expected[json.dumps(args)] = pages
    old_dashboards = {days: before.legacy_dashboard(log, days, now) for days in (7, 30, 365)}

    for args in filters:  # the first read builds the summaries from the stored events
        pages, cursor = [], None
        while True:
            page = log.list(ConversationFilters.from_args({**args, "apres": cursor or ""}), 7)
            pages.append(before.page_rows(page))
            cursor = page.cursor
            if not cursor:
                break
        assert pages == expected[json.dumps(args)], args
        assert len(pages) > 1 or args.get("hesitation"), "several pages walked"
    for days, old in old_dashboards.items():
        assert before.same_dashboard(log.dashboard(days, now), old), days


def test_page_n_reads_the_index_from_the_cursor_on(tmp_path):
    """Page N costs what page 1 costs: the cursor bounds an index scan, nothing is sorted."""
    url = f"sqlite:///{tmp_path / 'conversations.db'}"
    store = MaskingSQLTrackerStore(domain=DOMAIN, url=url)
    _save(store, "c", [ActionExecuted("action_listen"), _user("bonjour", 0.9, None)])
    log = ConversationLog(url)
    for filters in (ConversationFilters(after=(T0, "c")), ConversationFilters(with_fallback=True, after=(T0, "c"))):
        sql, params = log.list_query(filters)
        with log.engine.connect() as connection:
            plan = " / ".join(r[3] for r in connection.execute(sa.text("EXPLAIN QUERY PLAN " + sql), params))
        assert "USING INDEX ix_conversation_summaries_" in plan, plan
        assert "((last_at,sender_id)<(?,?))" in plan, "the cursor bounds the index scan"
        assert "TEMP B-TREE" not in plan, plan
    store.engine.dispose()


def _walk(log, args, page_size=9):
    pages, cursor = [], None
    while True:
        page = log.list(ConversationFilters.from_args({**args, "apres": cursor or ""}), page_size)
        pages.append([r["sender_id"] for r in page.rows])
        cursor = page.cursor
        if not cursor:
            return pages


def test_frequent_and_rare_words_find_the_same_conversations_either_way(url, monkeypatch):
    """PostgreSQL walks the conversations for words found in many of them and finds the messages
    first for the others: both ways list the same pages (and as the former substring search did)."""
    from bench import console_queries as before

    now = T0 + 91 * 86400
    before.seed(url, 300, now)
    log = ConversationLog(url)
    for words in ("cloud", "question", "question 3", "sur cloud", "introuvable"):
        walked = {}
        for dense in (1, 10**9):  # every search is "frequent", or none is
            monkeypatch.setattr(summary_module, "DENSE_SEARCH_CONVERSATIONS", dense)
            walked[dense] = [_walk(log, {"q": words}), _walk(log, {"q": words, "repli": "1", "fait": "cloud_act"})]
        assert walked[1] == walked[10**9], words
    legacy = [before.page_rows(before.legacy_list(log, ConversationFilters(text="cloud"), 10**6))]
    assert [row[0] for row in legacy[0][:-1]] == sum(_walk(log, {"q": "cloud"}), [])
