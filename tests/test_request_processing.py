"""The request lifecycle driven by the data-protection team: transmission to the controller,
extension of the deadline (art. 12.3), status changes — each with its history row and exactly one
e-mail to the citizen, queued in the same transaction — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import mailbox
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from devtools.databases import throwaway_database
from gdpr import notices
from gdpr.processing import (
    TRANSMISSION_CHANNELS,
    deliver_now,
    extend_deadline,
    queue_rows,
    record_transmission,
)
from gdpr.requests import RequestRepository, StatusChangeError, change_status, status_history
from mail.outbox import deliver_due, history_for_request
from mail.sink import MaildirSink, last_messages
from storage.schema import gdpr_requests, outgoing_emails
from tests.stored_requests import insert_request

D = dt.date
RECEIVED = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone.utc)  # Monday 2 March 2026
CHANNEL = "recommandé avec avis de réception"
SECRET_DETAILS = ("diabète de type 2", "née le 12/03/1970", "1 70 03 75 123 456 78")


@pytest.fixture(params=["sqlite", "postgresql"])
def repo(request, tmp_path):
    with throwaway_database(request.param, tmp_path / "app.db") as url:
        yield RequestRepository(url)


@pytest.fixture
def stored(repo):
    """A rectification request recorded on 2 March 2026 (transmission mode: no deadline yet)."""
    return insert_request(
        repo,
        kind="rectification",
        received_at=RECEIVED,
        wrong_data=SECRET_DETAILS[0],
        correct_data=SECRET_DETAILS[1] + " " + SECRET_DETAILS[2],
    )


def emails(repo, reference=None):
    query = sa.select(outgoing_emails).order_by(outgoing_emails.c.id)
    if reference:
        query = query.join(gdpr_requests, gdpr_requests.c.id == outgoing_emails.c.request_id).where(
            gdpr_requests.c.reference == reference
        )
    with repo.engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


def transmit(repo, reference, on=D(2026, 3, 3), today=D(2026, 3, 5), **overrides):
    arguments = dict(transmitted_on=on, transmitted_to=None, channel=CHANNEL, operator="agent.dpo", today=today)
    return record_transmission(repo, reference, **{**arguments, **overrides})


def assert_no_personal_detail(message):
    for detail in SECRET_DETAILS:
        assert detail not in message["body_text"] and detail not in message["body_html"]


def test_a_new_request_waits_for_its_transmission(repo, stored):
    assert stored.deadline is None and stored.transmitted_on is None
    [row] = queue_rows(repo, today=D(2026, 3, 5))
    assert row["badge"]["label"] == "à transmettre" and row["deadline_start"] is None


def test_transmission_starts_the_deadline_and_queues_exactly_one_email(repo, stored):
    queued = transmit(repo, stored.reference)
    request = repo.find_by_reference(stored.reference)
    assert request.transmitted_on == D(2026, 3, 3) and request.transmission_channel == CHANNEL
    assert request.transmitted_to == stored.controller, "the organisation defaults to the request's controller"
    assert request.transmitted_by == "agent.dpo"
    assert request.deadline == request.initial_deadline == D(2026, 4, 3)
    [message] = emails(repo)
    assert queued == [message["id"]]
    assert message["idempotency_key"] == f"transmission:{stored.reference}" and message["purpose"] == "transmission"
    assert message["recipient"] == "jeanne@example.fr" and message["status"] == "en attente"
    assert stored.reference in message["subject"]
    assert "3 avril 2026" in message["body_text"] and "3 mars 2026" in message["body_text"]
    assert "l'équipe de protection des données a transmis" in message["body_text"]
    assert_no_personal_detail(message)
    history = status_history(repo, stored.reference)
    assert [h["action"] for h in history] == ["statut", "transmission"]
    assert history[1]["reason"] == f"{stored.controller} — {CHANNEL}" and history[1]["changed_by"] == "agent.dpo"
    [row] = queue_rows(repo, today=D(2026, 3, 5))
    assert row["deadline_start"] == D(2026, 3, 3) and row["badge"]["state"] == "ok"


def test_a_second_transmission_is_refused_and_sends_nothing(repo, stored):
    transmit(repo, stored.reference, transmitted_to="CPAM de la Sarthe, DPO")
    with pytest.raises(StatusChangeError, match="déjà été transmise le 03/03/2026 à CPAM de la Sarthe"):
        transmit(repo, stored.reference, on=D(2026, 3, 4))
    assert len(emails(repo)) == 1
    assert repo.find_by_reference(stored.reference).transmitted_on == D(2026, 3, 3)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"on": D(2026, 3, 6)}, "dans le futur"),
        ({"on": D(2026, 3, 1)}, "précède l'enregistrement de la demande \\(02/03/2026\\)"),
        ({"channel": "pigeon voyageur"}, "moyen de transmission"),
        ({"channel": ""}, "moyen de transmission"),
        ({"transmitted_to": "x" * 201}, "trop long"),
    ],
)
def test_a_wrong_transmission_is_refused_with_a_french_message(repo, stored, overrides, message):
    with pytest.raises(StatusChangeError, match=message):
        transmit(repo, stored.reference, **overrides)
    request = repo.find_by_reference(stored.reference)
    assert request.transmitted_on is None and request.deadline is None
    assert emails(repo) == [] and len(status_history(repo, stored.reference)) == 1


def test_a_closed_request_cannot_be_transmitted(repo, stored):
    change_status(repo, stored.reference, "refusée", "Demande manifestement infondée", "agent.dpo")
    with pytest.raises(StatusChangeError, match="close"):
        transmit(repo, stored.reference)
    assert [m["purpose"] for m in emails(repo)] == ["status"]


def test_concurrent_transmissions_record_one(repo, stored):
    def attempt(i):
        try:
            transmit(RequestRepository(repo.url), stored.reference, operator=f"agent{i}")
            return f"agent{i}"
        except StatusChangeError as error:
            return str(error)

    with ThreadPoolExecutor(max_workers=5) as pool:
        outcomes = list(pool.map(attempt, range(5)))
    winners = [o for o in outcomes if o.startswith("agent")]
    assert len(winners) == 1, outcomes
    assert len(emails(repo)) == 1
    assert [h["action"] for h in status_history(repo, stored.reference)] == ["statut", "transmission"]


def test_nothing_is_recorded_when_the_email_cannot_be_queued(repo, stored, monkeypatch):
    import mail.outbox

    def broken(*_args, **_kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(mail.outbox, "queue", broken)
    with pytest.raises(RuntimeError):
        transmit(repo, stored.reference)
    with pytest.raises(RuntimeError):
        change_status(repo, stored.reference, "en cours", None, "agent.dpo")
    request = repo.find_by_reference(stored.reference)
    assert request.transmitted_on is None and request.status == "reçue"
    assert len(status_history(repo, stored.reference)) == 1, "the history row went with the rest"


def test_extension_needs_a_running_deadline_a_reason_and_the_first_month(repo, stored):
    with pytest.raises(StatusChangeError, match="pas encore commencé"):
        extend_deadline(repo, stored.reference, months=2, reason="Demande complexe", operator="a", today=D(2026, 3, 5))
    transmit(repo, stored.reference)  # deadline: Friday 3 April 2026
    for blank in ("", "   "):
        with pytest.raises(StatusChangeError, match="motivée"):
            extend_deadline(repo, stored.reference, months=2, reason=blank, operator="a", today=D(2026, 3, 20))
    for months in (0, 3):
        with pytest.raises(StatusChangeError, match="un ou de deux mois"):
            extend_deadline(repo, stored.reference, months=months, reason="x", operator="a", today=D(2026, 3, 20))
    with pytest.raises(StatusChangeError, match="premier mois a pris fin le 03/04/2026.*article 12.3"):
        extend_deadline(repo, stored.reference, months=2, reason="Trop tard", operator="a", today=D(2026, 4, 4))
    assert [m["purpose"] for m in emails(repo)] == ["transmission"]
    assert repo.find_by_reference(stored.reference).deadline == D(2026, 4, 3)


def test_extension_is_allowed_once_on_the_last_day_of_the_first_month(repo, stored):
    transmit(repo, stored.reference)
    reason = "Demande complexe : plusieurs bases de données à consulter"
    queued = extend_deadline(repo, stored.reference, months=2, reason=reason, operator="agent.b", today=D(2026, 4, 3))
    request = repo.find_by_reference(stored.reference)
    # 3 March + 3 months = Wednesday 3 June 2026.
    assert request.deadline == D(2026, 6, 3) and request.initial_deadline == D(2026, 4, 3)
    assert request.extension_reason == reason and request.extended_at is not None
    message = emails(repo)[-1]
    assert queued == [message["id"]] and message["idempotency_key"] == f"extension:{stored.reference}"
    assert message["purpose"] == "extension"
    assert "3 juin 2026" in message["body_text"] and "3 avril 2026" in message["body_text"]
    assert reason in message["body_text"] and "article 12.3" in message["body_text"]
    assert_no_personal_detail(message)
    with pytest.raises(StatusChangeError, match="déjà été prolongé"):
        extend_deadline(repo, stored.reference, months=1, reason="Encore", operator="agent.b", today=D(2026, 4, 3))
    history = status_history(repo, stored.reference)
    assert [h["action"] for h in history] == ["statut", "transmission", "prolongation"]
    assert history[2]["reason"] == f"+2 mois, nouvelle échéance le 03/06/2026 : {reason}"
    assert len(emails(repo)) == 2


def test_extension_by_one_month_lands_on_a_working_day(repo):
    # Transmitted on Saturday 14 March 2026: the first month ends on Tuesday 14 April,
    # one more month on Thursday 14 May 2026, Ascension Day, so Friday 15 May.
    request = insert_request(repo, received_at=dt.datetime(2026, 3, 13, 9, 0, tzinfo=dt.timezone.utc))
    transmit(repo, request.reference, on=D(2026, 3, 14), today=D(2026, 3, 16))
    assert repo.find_by_reference(request.reference).deadline == D(2026, 4, 14)
    extend_deadline(repo, request.reference, months=1, reason="Volume", operator="a", today=D(2026, 3, 16))
    assert repo.find_by_reference(request.reference).deadline == D(2026, 5, 15)


def test_a_closed_request_cannot_be_extended(repo, stored):
    transmit(repo, stored.reference)
    change_status(repo, stored.reference, "traitée", None, "agent.dpo")
    with pytest.raises(StatusChangeError, match="close"):
        extend_deadline(repo, stored.reference, months=1, reason="x", operator="a", today=D(2026, 3, 10))


def test_each_status_change_sends_exactly_one_message_through_a_real_smtp_sink(repo, stored, tmp_path, monkeypatch):
    directory = tmp_path / "maildir"
    sink = MaildirSink(directory, port=0)
    sink.start()
    try:
        monkeypatch.setenv("SMTP_URL", sink.url)
        transmit(repo, stored.reference)
        changes = [("en cours", None), ("reçue", "Pièce manquante"), ("en cours", None), ("refusée", "Hors champ")]
        for status, reason in changes:
            queued = change_status(repo, stored.reference, status, reason, "agent.dpo")
            assert len(queued) == 1
            deliver_now(repo.url, queued)  # what the console does after each change
        with pytest.raises(StatusChangeError, match="déjà le statut « refusée »"):
            change_status(repo, stored.reference, "refusée", "Encore", "agent.dpo")
        assert deliver_due(repo.url)["sent"] == 1, "the transmission e-mail, left to the sender"
        assert deliver_due(repo.url) == {"sent": 0, "retry": 0, "refused": 0}
    finally:
        sink.stop()
    stored_emails = emails(repo)
    assert [m["purpose"] for m in stored_emails] == ["transmission"] + ["status"] * len(changes)
    assert all(m["status"] == "envoyé" and m["attempts"] == 1 for m in stored_emails)
    history = status_history(repo, stored.reference)
    status_rows = [h for h in history if h["action"] == "statut"][1:]
    assert [m["idempotency_key"] for m in stored_emails[1:]] == [f"status:{h['id']}" for h in status_rows]
    assert len(mailbox.Maildir(directory, create=False)) == len(stored_emails)
    delivered = {m["message_id"]: m for m in last_messages(directory, limit=50)}
    assert set(delivered) == {m["message_id"] for m in stored_emails}, "one message per change, same Message-ID"
    refusal = delivered[stored_emails[-1]["message_id"]]
    assert refusal["to"] == "jeanne@example.fr" and "refusée" in refusal["subject"]
    assert "Hors champ" in refusal["text"] and "https://www.cnil.fr/fr/plaintes" in refusal["text"]
    for message in stored_emails:
        assert_no_personal_detail(message)
    shown = history_for_request(repo.url, stored.id)
    assert [e["status"] for e in shown] == ["envoyé"] * len(stored_emails)
    assert [(h["old_status"], h["new_status"]) for h in status_rows] == [
        ("reçue", "en cours"),
        ("en cours", "reçue"),
        ("reçue", "en cours"),
        ("en cours", "refusée"),
    ]


def test_verification_mode_runs_the_deadline_from_the_recording(repo, monkeypatch):
    monkeypatch.setenv("DEADLINE_STARTS_ON", "verification")
    # Recorded Saturday 31 January 2026, 23:30 in Paris: the month ends on Saturday 28 February,
    # so the deadline is Monday 2 March 2026.
    request = insert_request(repo, received_at=dt.datetime(2026, 1, 31, 22, 30, tzinfo=dt.timezone.utc))
    assert request.deadline == D(2026, 3, 2)
    [row] = queue_rows(repo, today=D(2026, 2, 20))
    assert row["deadline_start"] == D(2026, 1, 31) and row["badge"]["state"] == "ok", "10 days left"
    assert queue_rows(repo, today=D(2026, 2, 21))[0]["badge"]["state"] == "soon"
    # Before the transmission, the deadline already runs and can be extended in the first month.
    extend_deadline(repo, request.reference, months=1, reason="Complexe", operator="a", today=D(2026, 2, 20))
    assert repo.find_by_reference(request.reference).deadline == D(2026, 3, 31)
    transmit(repo, request.reference, on=D(2026, 2, 23), today=D(2026, 2, 24))
    after = repo.find_by_reference(request.reference)
    assert after.deadline == D(2026, 3, 31) and after.initial_deadline == D(2026, 3, 2), (
        "the transmission moves nothing"
    )
    assert [m["purpose"] for m in emails(repo)] == ["extension", "transmission"]
    assert "31 mars 2026" in emails(repo)[-1]["body_text"]


def test_the_acknowledgement_says_what_happens_next(repo, stored, monkeypatch):
    notice = notices.acknowledgement(stored)
    assert notices.acknowledgement_key(stored) == f"ack:{stored.reference}"
    text = notice.text
    assert stored.reference in text and "demande de rectification (article 16 du RGPD)" in text
    assert "un projet de recherche sur la Plateforme du Health Data Hub" in text
    assert "va transmettre votre demande à la Plateforme des données de santé" in text
    assert "nous vous écrirons à ce moment-là" in text and "deux mois" in text
    assert f"/lettre/{stored.reference}?cle={stored.letter_key}" in text
    assert "https://www.cnil.fr/fr/plaintes" in text and "conversation" in text
    assert f'href="http://localhost:8080/lettre/{stored.reference}?cle={stored.letter_key}"' in notice.html
    for detail in SECRET_DETAILS:
        assert detail not in text and detail not in notice.html
    monkeypatch.setenv("DEADLINE_STARTS_ON", "verification")
    text = notices.acknowledgement(stored).text
    assert "à partir d'aujourd'hui" in text and "2 avril 2026" in text and "va transmettre" not in text


def test_every_channel_fits_its_column():
    assert all(len(c) <= gdpr_requests.c.transmission_channel.type.length for c in TRANSMISSION_CHANNELS)
