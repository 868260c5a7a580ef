"""Messages to the team in the console (issue #21): the inbox and its filter, one message's page,
assignment, answer by e-mail (through a real SMTP sink), closing, spam, the answer due date in
working days, the dashboard statistics, the draft fact and the answer templates. Real Flask app,
SQLite and PostgreSQL; messages are written directly (tests/stored_messages.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path

import markupsafe
import pytest
import sqlalchemy as sa
import yaml

from console.accounts import create_operator
from devtools.databases import throwaway_database
from devtools.servers import free_port
from gdpr.requests import RequestRepository
from mail.outbox import history_for_team_message
from mail.sink import MaildirSink, last_messages
from settings import PROJECT_ROOT
from storage.schema import outgoing_emails, team_message_events
from team_inbox.messages import TeamInbox
from team_inbox.processing import (
    ANSWER_TEMPLATES,
    MAX_ANSWER_CHARS,
    InboxError,
    add_working_days,
    answer_due,
    draft_fact_yaml,
    is_overdue,
    load_answer_templates,
    stats,
)
from tests.stored_messages import insert_message
from training.facts import FACT_ID_PATTERN, default_catalogue
from webapp import create_app

PASSWORD = "correct horse battery staple"
UTC = dt.timezone.utc
XSS = "<script>alert(1)</script>"


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, tmp_path, monkeypatch):
    monkeypatch.setenv("MDS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nothing listens: e-mails stay queued
    monkeypatch.delenv("CONTACT_ANSWER_DAYS", raising=False)
    with throwaway_database(request.param, tmp_path / "app.db") as url:
        repo = RequestRepository(url)
        create_operator(repo, "agent.dpo", PASSWORD, role="dpo")
        create_operator(repo, "agent.b", PASSWORD, role="dpo")
        application = create_app(url, f"sqlite:///{tmp_path / 'conversations.db'}")
        application.config["TESTING"] = True
        yield application


@pytest.fixture
def repo(app):
    return app.config["REPOSITORY"]


@pytest.fixture
def inbox(repo):
    return TeamInbox(repo)


def token_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


@pytest.fixture
def client(app):
    client = app.test_client()
    token = token_of(client.get("/console/connexion").get_data(as_text=True))
    response = client.post(
        "/console/connexion", data={"identifiant": "agent.dpo", "mot_de_passe": PASSWORD, "csrf": token}
    )
    assert response.status_code == 302
    return client


def page_of(client, path, **query):
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def post(client, path, data):
    """POST a console form with the session's CSRF token."""
    return client.post(path, data={"csrf": token_of(page_of(client, "/console/messages")), **data})


def listed(page: str) -> list:
    return re.findall(r">(MSG-\d{4}-\d{6})</a>", page)


def outbox_rows(repo, message) -> list:
    with repo.engine.connect() as connection:
        return connection.execute(
            sa.select(outgoing_emails).where(outgoing_emails.c.team_message_id == message.id)
        ).all()


def events_of(repo, message) -> list:
    with repo.engine.connect() as connection:
        return [
            dict(r)
            for r in connection.execute(
                sa.select(team_message_events)
                .where(team_message_events.c.message_id == message.id)
                .order_by(team_message_events.c.id)
            ).mappings()
        ]


# --- Access ------------------------------------------------------------------------------
def test_nothing_without_login(app, inbox, repo):
    message = insert_message(repo)
    anonymous = app.test_client()
    for path in ("/console/messages", f"/console/messages/{message.reference}"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/console/connexion" in response.headers["Location"]
    response = anonymous.post(f"/console/messages/{message.reference}/reponse", data={"reponse": "Bonjour"})
    assert response.status_code == 302
    assert inbox.get(message.reference).status == "nouveau" and outbox_rows(repo, message) == []


def test_a_post_without_the_csrf_token_is_refused(client, inbox, repo):
    message = insert_message(repo)
    for path, data in [
        (f"/console/messages/{message.reference}/reponse", {"reponse": "Bonjour"}),
        (f"/console/messages/{message.reference}/indesirable", {}),
        (f"/console/messages/{message.reference}/attribution", {"a": "agent.dpo"}),
    ]:
        refused = client.post(path, data=data)
        assert refused.status_code == 400 and "Jeton CSRF" in refused.get_data(as_text=True)
        forged = client.post(path, data={**data, "csrf": "forged"})
        assert forged.status_code == 400
    stored = inbox.get(message.reference)
    assert stored.status == "nouveau" and stored.answer is None and stored.assigned_to is None
    assert outbox_rows(repo, message) == [] and len(events_of(repo, message)) == 1


def test_an_unknown_or_overlong_reference_is_a_404(client, repo):
    insert_message(repo)
    assert client.get("/console/messages/MSG-2026-999999").status_code == 404
    assert client.get("/console/messages/" + "M" * 500).status_code == 404
    assert post(client, "/console/messages/MSG-2026-999999/reponse", {"reponse": "Bonjour"}).status_code == 404
    assert post(client, "/console/messages/" + "M" * 500 + "/cloture", {}).status_code == 404


# --- The inbox ---------------------------------------------------------------------------
def test_the_inbox_shows_open_messages_oldest_first_and_filters_by_status(client, inbox, repo):
    now = dt.datetime.now(UTC)
    older = insert_message(repo, created_at=now - dt.timedelta(days=2))
    newer = insert_message(repo, created_at=now - dt.timedelta(hours=1))
    closed = insert_message(repo, created_at=now - dt.timedelta(days=3), status="clos")
    spam = insert_message(repo, created_at=now - dt.timedelta(days=3), status="indésirable")
    answered = insert_message(repo, created_at=now - dt.timedelta(days=3), answered_at=[now - dt.timedelta(days=1)])
    assert post(client, f"/console/messages/{newer.reference}/attribution", {"a": "agent.b"}).status_code == 302

    default = page_of(client, "/console/messages")
    assert listed(default) == [older.reference, newer.reference]
    assert "agent.b" in default and "attribué" in default
    assert listed(page_of(client, "/console/messages", statut="clos")) == [closed.reference]
    assert listed(page_of(client, "/console/messages", statut="indésirable")) == [spam.reference]
    assert listed(page_of(client, "/console/messages", statut="répondu")) == [answered.reference]
    assert listed(page_of(client, "/console/messages", statut="attribué")) == [newer.reference]
    everything = listed(page_of(client, "/console/messages", statut="tous"))
    assert sorted(everything) == sorted(m.reference for m in (older, newer, closed, spam, answered))
    for junk in ("' OR 1=1 --", "x" * 300):
        assert listed(page_of(client, "/console/messages", statut=junk)) == [older.reference, newer.reference]
    assert 'href="/console/messages"' in page_of(client, "/console/demandes"), "« Messages » in the console menu"


def test_the_inbox_marks_overdue_messages_and_shows_the_start_of_the_question(client, repo):
    late = insert_message(repo, created_at=dt.datetime.now(UTC) - dt.timedelta(days=30), question="A" * 119 + "BCD")
    fresh = insert_message(repo, question="Une question toute neuve")
    page = page_of(client, "/console/messages")
    rows = {ref: row for row in re.findall(r"<tr class=.*?</tr>", page, re.S) for ref in listed(row)}
    assert "en retard" in rows[late.reference] and "fr-badge--error" in rows[late.reference]
    assert "en retard" not in rows[fresh.reference]
    assert "A" * 119 + "B…" in rows[late.reference] and "BCD" not in rows[late.reference]
    assert answer_due(late).strftime("%d/%m/%Y") in rows[late.reference]


def test_a_citizens_script_is_shown_as_text_on_both_pages(client, repo):
    message = insert_message(repo, question=f"Bonjour {XSS} ma question")
    escaped = str(markupsafe.escape(XSS))
    for path in ("/console/messages", f"/console/messages/{message.reference}"):
        page = page_of(client, path)
        assert escaped in page and XSS not in page


# --- Assignment --------------------------------------------------------------------------
def test_assign_to_me_then_to_a_colleague_is_recorded(client, inbox, repo):
    message = insert_message(repo)
    path = f"/console/messages/{message.reference}"
    page = page_of(client, path)
    assert '<option value="agent.b"' in page and "Me l'attribuer" in page
    assert post(client, f"{path}/attribution", {"a": "agent.dpo"}).status_code == 302
    stored = inbox.get(message.reference)
    assert (stored.status, stored.assigned_to) == ("attribué", "agent.dpo")
    assert post(client, f"{path}/attribution", {"a": "agent.b"}).status_code == 302
    assert inbox.get(message.reference).assigned_to == "agent.b"
    events = events_of(repo, message)
    assert [(e["action"], e["detail"], e["operator"]) for e in events] == [
        ("reçu", None, "assistant"),
        ("attribué", "agent.dpo", "agent.dpo"),
        ("attribué", "agent.dpo → agent.b", "agent.dpo"),
    ]
    assert outbox_rows(repo, message) == [], "an assignment e-mails nobody"
    assert post(client, f"{path}/attribution", {"a": "agent.b"}).status_code == 302
    assert len(events_of(repo, message)) == 3, "assigning again to the same person records nothing"
    unknown = post(client, f"{path}/attribution", {"a": "<b>personne</b>"})
    body = unknown.get_data(as_text=True)
    assert unknown.status_code == 400 and "Aucun compte opérateur" in body and "<b>personne</b>" not in body
    assert inbox.get(message.reference).assigned_to == "agent.b" and len(events_of(repo, message)) == 3
    history = page_of(client, path)
    assert "Attribution" in history and "agent.dpo → agent.b" in history


# --- Answer ------------------------------------------------------------------------------
def test_an_answer_is_recorded_and_e_mailed_once_with_its_message_id(client, inbox, repo, tmp_path, monkeypatch):
    message = insert_message(repo, question="Qui peut lire mes données de santé ?", email="jeanne@example.fr")
    text = "Seules des équipes autorisées y accèdent.\n\nUne deuxième phrase, dans un autre paragraphe."
    sink = MaildirSink(tmp_path / "mail", port=0)
    sink.start()
    try:
        monkeypatch.setenv("SMTP_URL", sink.url)
        response = post(client, f"/console/messages/{message.reference}/reponse", {"reponse": f"  {text}\r\n"})
    finally:
        sink.stop()
    assert response.status_code == 302
    stored = inbox.get(message.reference)
    assert (stored.status, stored.answer, stored.answered_by) == ("répondu", text, "agent.dpo")
    assert stored.answered_at is not None and stored.assigned_to == "agent.dpo"
    [delivered] = last_messages(tmp_path / "mail")
    assert delivered["to"] == "jeanne@example.fr"
    assert delivered["subject"] == f"Réponse à votre message {message.reference}"
    assert "Seules des équipes autorisées y accèdent." in delivered["text"]
    assert "Une deuxième phrase, dans un autre paragraphe." in delivered["text"]
    assert "« Qui peut lire mes données de santé ? »" in delivered["text"], "the question is recalled"
    assert "l'assistant" in delivered["text"], "the citizen is told how to ask more"
    [email] = history_for_team_message(repo.url, message.id)
    assert email["status"] == "envoyé" and email["message_id"] == delivered["message_id"]
    assert email["purpose"] == "contact_answer"
    assert [(e["action"], e["operator"]) for e in events_of(repo, message)][-1] == ("répondu", "agent.dpo")
    page = page_of(client, f"/console/messages/{message.reference}")
    assert "Réponse de l&#39;équipe" in page and ">envoyé<" in page
    assert str(markupsafe.escape(delivered["message_id"])) in page
    assert "Répondre à nouveau" in page and "Marquer comme indésirable" not in page


def test_a_second_answer_is_a_second_e_mail(client, inbox, repo):
    message = insert_message(repo)
    path = f"/console/messages/{message.reference}/reponse"
    assert post(client, path, {"reponse": "Première réponse."}).status_code == 302
    assert post(client, path, {"reponse": "Un complément."}).status_code == 302
    rows = outbox_rows(repo, message)
    assert len(rows) == 2 and len({r.idempotency_key for r in rows}) == 2
    assert "Première réponse." in rows[0].body_text and "Un complément." in rows[1].body_text
    assert inbox.get(message.reference).answer == "Un complément."
    answers = [e["detail"] for e in events_of(repo, message) if e["action"] == "répondu"]
    assert answers == ["Première réponse.", "Un complément."]


@pytest.mark.parametrize("typed", ["", "   \r\n  "])
def test_an_empty_answer_is_refused_in_french_and_nothing_is_sent(client, inbox, repo, typed):
    message = insert_message(repo)
    response = post(client, f"/console/messages/{message.reference}/reponse", {"reponse": typed})
    assert response.status_code == 400
    assert "Écrivez la réponse avant de l&#39;envoyer" in response.get_data(as_text=True)
    stored = inbox.get(message.reference)
    assert stored.status == "nouveau" and stored.answer is None
    assert outbox_rows(repo, message) == [] and len(events_of(repo, message)) == 1


def test_a_too_long_answer_is_refused_and_the_typed_text_kept(client, inbox, repo):
    message = insert_message(repo)
    typed = "Début <i>gardé</i> " + "x" * MAX_ANSWER_CHARS
    response = post(client, f"/console/messages/{message.reference}/reponse", {"reponse": typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "trop longue" in page
    assert str(markupsafe.escape(typed)) in page and "<i>gardé</i>" not in page
    assert inbox.get(message.reference).status == "nouveau" and outbox_rows(repo, message) == []


# --- Close and spam ----------------------------------------------------------------------
def test_close_then_nothing_more_can_be_done(client, inbox, repo):
    message = insert_message(repo, answered_at=[dt.datetime.now(UTC)])
    path = f"/console/messages/{message.reference}"
    assert post(client, f"{path}/cloture", {}).status_code == 302
    assert inbox.get(message.reference).status == "clos"
    assert events_of(repo, message)[-1]["action"] == "clos" and events_of(repo, message)[-1]["operator"] == "agent.dpo"
    assert outbox_rows(repo, message) == []
    for action, data in (("reponse", {"reponse": "Encore"}), ("attribution", {"a": "agent.b"}), ("cloture", {})):
        refused = post(client, f"{path}/{action}", data)
        assert refused.status_code == 400 and "« clos »" in refused.get_data(as_text=True)
    assert outbox_rows(repo, message) == [] and inbox.get(message.reference).status == "clos"
    page = page_of(client, path)
    assert "Envoyer la réponse" not in page and "Clore le message" not in page


def test_spam_sends_nothing_and_leaves_the_inbox(client, inbox, repo, tmp_path, monkeypatch):
    message = insert_message(repo)
    sink = MaildirSink(tmp_path / "mail", port=0)
    sink.start()
    try:
        monkeypatch.setenv("SMTP_URL", sink.url)
        assert post(client, f"/console/messages/{message.reference}/indesirable", {}).status_code == 302
    finally:
        sink.stop()
    assert inbox.get(message.reference).status == "indésirable"
    assert last_messages(tmp_path / "mail") == [] and outbox_rows(repo, message) == []
    assert events_of(repo, message)[-1]["action"] == "indésirable"
    assert message.reference not in page_of(client, "/console/messages")
    answered = insert_message(repo, answered_at=[dt.datetime.now(UTC)])
    refused = post(client, f"/console/messages/{answered.reference}/indesirable", {})
    assert refused.status_code == 400 and "sans réponse" in refused.get_data(as_text=True)
    assert inbox.get(answered.reference).status == "répondu"


# --- The conversation beside the message --------------------------------------------------
def tracker_store(app):
    """The conversation log as Rasa writes it (creating its table)."""
    from rasa.shared.core.domain import Domain

    from rasa_addons.tracker_store import MaskingSQLTrackerStore

    return MaskingSQLTrackerStore(domain=Domain.from_yaml('version: "3.1"'), url=app.config["TRACKER_STORE_URL"])


def test_the_message_page_shows_its_conversation_masked(app, client, repo):
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    store = tracker_store(app)
    domain = store.domain
    events = [
        ActionExecuted("action_listen"),
        UserUttered("Je veux écrire à l'équipe, mon adresse est autre.adresse@example.org", {"name": "contact_team"}),
        BotUttered("Quelle est votre question ?"),
    ]
    asyncio.run(store.save(DialogueStateTracker.from_events("chat-42", events, slots=domain.slots)))
    message = insert_message(repo, sender_id="chat-42")
    page = page_of(client, f"/console/messages/{message.reference}")
    assert "Quelle est votre question ?" in page and "Je veux écrire à l&#39;équipe" in page
    assert "autre.adresse@example.org" not in page
    assert 'href="/console/conversations/chat-42"' in page
    orphan = insert_message(repo, sender_id="purged-conversation")
    assert "Conversation introuvable" in page_of(client, f"/console/messages/{orphan.reference}")


# --- Answer due date ---------------------------------------------------------------------
def test_the_answer_is_due_after_working_days_skipping_weekends_and_holidays(monkeypatch):
    monkeypatch.setenv("CONTACT_ANSWER_DAYS", "5")
    # Thursday 30 April 2026: 1 May (Friday) and 8 May (Friday) are public holidays.
    message = insert_like(dt.datetime(2026, 4, 30, 10, 0, tzinfo=UTC))
    assert answer_due(message) == dt.date(2026, 5, 11)
    # 23:30 UTC on Thursday 5 March is Friday 6 March in Paris: due the next Friday, not Thursday.
    assert answer_due(insert_like(dt.datetime(2026, 3, 5, 23, 30, tzinfo=UTC))) == dt.date(2026, 3, 13)
    # Received on a Saturday: Monday is the first working day.
    assert answer_due(insert_like(dt.datetime(2026, 3, 7, 12, 0, tzinfo=UTC))) == dt.date(2026, 3, 13)
    assert add_working_days(dt.date(2026, 12, 24), 1) == dt.date(2026, 12, 28)  # Christmas, then a weekend
    monkeypatch.setenv("CONTACT_ANSWER_DAYS", "2")
    assert answer_due(message) == dt.date(2026, 5, 5)
    assert not is_overdue(message, dt.date(2026, 5, 5)) and is_overdue(message, dt.date(2026, 5, 6))
    answered = insert_like(dt.datetime(2026, 4, 30, 10, 0, tzinfo=UTC), status="répondu")
    assert not is_overdue(answered, dt.date(2026, 6, 1))


def insert_like(created_at: dt.datetime, status: str = "nouveau"):
    from team_inbox.messages import TeamMessage

    return TeamMessage(
        1, "MSG-2026-000001", "s", "q", "e@example.fr", status, None, None, None, None, created_at, created_at
    )


# --- Statistics --------------------------------------------------------------------------
def test_stats_count_per_week_the_median_time_to_answer_and_overdue_messages(app, client, inbox, repo, monkeypatch):
    monkeypatch.setenv("CONTACT_ANSWER_DAYS", "5")
    today = dt.date(2026, 3, 18)  # a Wednesday: this ISO week starts on Monday 16 March
    noon = dt.datetime(2026, 3, 18, 11, 0, tzinfo=UTC)

    def at(days_ago: float, hour_offset: float = 0):
        return noon - dt.timedelta(days=days_ago) + dt.timedelta(hours=hour_offset)

    # This week: 2 messages; the week before: 1; seven weeks before this one: 1; eight weeks: outside.
    this_week = insert_message(repo, created_at=at(1), answered_at=[at(1, 2)])  # 2 h
    insert_message(repo, created_at=at(2), answered_at=[at(2, 4), at(0, 0)])  # first answer after 4 h
    insert_message(repo, created_at=at(7), answered_at=[at(7, 10)])  # 10 h
    insert_message(repo, created_at=at(49), answered_at=[at(49, 30)])  # 30 h, week of 26 January
    insert_message(repo, created_at=at(56))  # open, week of 19 January (not shown), overdue
    insert_message(repo, created_at=at(120), answered_at=[at(119)])  # answered 119 days ago: not in the median
    insert_message(repo, created_at=at(20), status="clos")  # week of 23 February; closed: never overdue
    insert_message(repo, created_at=dt.datetime(2026, 3, 16, 7, 0, tzinfo=UTC))  # open, due Monday 23 March
    # 23:30 UTC on Sunday 15 March is Monday 16 March in Paris: this week.
    insert_message(repo, created_at=dt.datetime(2026, 3, 15, 23, 30, tzinfo=UTC), status="indésirable")
    insert_message(repo, created_at=dt.datetime(2026, 3, 19, 9, 0, tzinfo=UTC))  # tomorrow: not counted yet

    result = stats(inbox, today)
    weeks = result["per_week"]
    assert [w["monday"] for w in weeks][0] == dt.date(2026, 1, 26) and weeks[-1]["monday"] == dt.date(2026, 3, 16)
    assert len(weeks) == 8 and weeks[-1]["week"] == "2026-W12"
    assert [w["count"] for w in weeks] == [1, 0, 0, 0, 1, 0, 1, 4]
    assert result["answered"] == 4 and result["median_hours"] == 7.0
    assert (result["open"], result["overdue"]) == (3, 1)
    assert is_overdue(inbox.get(this_week.reference), today) is False

    # The dashboard counts from the real today: a message answered in 2 h 30 min; the 3 open ones are late.
    real_now = dt.datetime.now(UTC)
    insert_message(repo, created_at=real_now - dt.timedelta(hours=3), answered_at=[real_now - dt.timedelta(minutes=30)])
    tracker_store(app)  # the dashboard reads the conversation log too
    page = page_of(client, "/console/tableau-de-bord")
    section = page.split("Messages à l'équipe", 1)[1]
    assert "Messages reçus par semaine" in section and "<svg" in section
    assert "Délai médian de réponse (90 derniers jours) : <strong>2,5 h</strong> sur 1 message(s)" in section
    assert "Messages à traiter : 3, dont <strong>3 en retard</strong>" in section


def test_stats_without_any_message(inbox):
    result = stats(inbox, dt.date(2026, 3, 18))
    assert result["median_hours"] is None and result["overdue"] == 0
    assert [w["count"] for w in result["per_week"]] == [0] * 8


# --- Draft fact --------------------------------------------------------------------------
def test_an_answered_message_gives_a_draft_fact_that_is_written_nowhere(client, inbox, repo):
    question = "Qu'est-ce que « le SNDS » ? # pas un commentaire\n- ni une liste: vraiment"
    message = insert_message(repo, question=question)
    path = f"/console/messages/{message.reference}"
    assert "Brouillon de fait" not in page_of(client, path), "only for answered messages"
    with pytest.raises(InboxError):
        draft_fact_yaml(message)
    catalogue = sorted(p.name for p in (PROJECT_ROOT / "facts" / "catalogue").iterdir())
    answer_text = "Le Système national des données de santé (SNDS) réunit des données : « pseudonymisées »."
    assert post(client, f"{path}/reponse", {"reponse": answer_text}).status_code == 302
    draft = draft_fact_yaml(inbox.get(message.reference))
    fact = yaml.safe_load(draft)
    assert fact["examples"][0] == question and fact["answer"] == answer_text
    assert fact["sources"] == [] and "verified_on" not in fact
    assert FACT_ID_PATTERN.match(fact["id"]) and set(fact) >= {"id", "title", "answer", "sources", "examples"}
    assert "# à compléter : une source vérifiée est obligatoire" in draft
    page = page_of(client, path)
    assert "Brouillon de fait" in page
    shown = re.search(r'<pre class="fact-draft">(.*?)</pre>', page, re.S).group(1)
    assert yaml.safe_load(markupsafe.Markup(shown).unescape()) == fact
    assert sorted(p.name for p in (PROJECT_ROOT / "facts" / "catalogue").iterdir()) == catalogue


# --- Answer templates --------------------------------------------------------------------
def test_the_answer_templates_load_and_rely_only_on_catalogue_facts():
    assert len(ANSWER_TEMPLATES) >= 4
    catalogue = default_catalogue()
    for template in ANSWER_TEMPLATES.values():
        assert template.title and template.text and len(template.text) <= MAX_ANSWER_CHARS
        assert all(fact_id in catalogue for fact_id in template.facts), template.id
    assert {"exercer_vos_droits", "hors_champ_assurance_maladie", "pas_de_reponse_publiee", "merci_remarque"} <= set(
        ANSWER_TEMPLATES
    )


def test_a_malformed_templates_file_is_refused(tmp_path):
    broken = tmp_path / "templates.yml"
    broken.write_text("- {id: a, title: A, text: x}\n- {id: a, title: B, text: y}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate"):
        load_answer_templates(broken)
    broken.write_text("- {id: a, title: A}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs"):
        load_answer_templates(broken)
    assert load_answer_templates(Path(__file__).parents[1] / "team_inbox" / "answer_templates.yml")


def test_a_template_fills_the_answer_box(client, repo):
    message = insert_message(repo)
    path = f"/console/messages/{message.reference}"
    template = ANSWER_TEMPLATES["hors_champ_assurance_maladie"]
    page = page_of(client, path, modele=template.id)
    box = re.search(r'<textarea[^>]*name="reponse"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert markupsafe.Markup(box).unescape() == template.text
    assert f'<option value="{template.id}" selected>' in page
    empty = page_of(client, path, modele="inconnu")
    assert re.search(r'<textarea[^>]*name="reponse"[^>]*></textarea>', empty)
