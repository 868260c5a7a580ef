"""Outgoing e-mail (mail/): composition, SMTP transport, the Maildir sink and the outbox, with a
real SMTP server on the loopback and real SQLite and PostgreSQL databases."""

from __future__ import annotations

import datetime as dt
import email.utils
import mailbox
import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
from email import policy
from email.parser import BytesParser

import pytest
import sqlalchemy as sa

from devtools.databases import throwaway_database
from mail import outbox
from mail.compose import compose, html_page, new_message_id
from mail.sink import MaildirSink, last_messages
from mail.transport import PermanentFailure, TemporaryFailure, parse_smtp_url, send
from settings import PROJECT_ROOT
from storage.database import engine_for, migrate
from storage.schema import gdpr_requests, outgoing_emails

SUBJECT = "Votre demande a été reçue — accusé de réception"
TEXT = "Bonjour,\n\nNous avons bien reçu votre demande d'effacement.\n"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment


def maildir_messages(directory) -> list:
    """Every message of the Maildir, read by the standard library's mailbox.Maildir."""
    box = mailbox.Maildir(directory, factory=lambda file: BytesParser(policy=policy.default).parse(file), create=False)
    return list(box.values())


@pytest.fixture
def sink(tmp_path):
    """A real SMTP server on a free loopback port; refuses addresses starting with "refuse" and
    records, in order, the recipients it accepted (sink.accepted)."""
    accepted = []

    def refuse(address: str) -> bool:
        if address.startswith("refuse"):
            return True
        accepted.append(address)
        return False

    server = MaildirSink(tmp_path / "maildir", port=0, refuse=refuse)
    server.accepted = accepted
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    with throwaway_database(request.param, tmp_path / "app.db") as url:
        migrate(url)
        yield url


def stored(url: str) -> list[dict]:
    with engine_for(url).connect() as connection:
        rows = connection.execute(sa.select(outgoing_emails).order_by(outgoing_emails.c.id)).mappings().all()
    return [dict(row) for row in rows]


def queue_messages(url: str, recipients: list[str], request_id: int | None = None, prefix: str = "ack") -> list[int]:
    ids = []
    for number, recipient in enumerate(recipients):
        with engine_for(url).begin() as connection:
            ids.append(
                outbox.queue(
                    connection,
                    key=f"{prefix}:{number}",
                    purpose="accuse_reception",
                    recipient=recipient,
                    subject=f"{SUBJECT} n°{number}",
                    text=TEXT,
                    html=html_page(SUBJECT, [TEXT]),
                    request_id=request_id,
                )
            )
    return ids


def insert_request(url: str) -> int:
    now = utc_now()
    with engine_for(url).begin() as connection:
        return connection.execute(
            sa.insert(gdpr_requests).values(
                reference="HDH-2026-000001",
                kind="erasure",
                status="reçue",
                data_scope="hdh_project",
                controller="Health Data Hub",
                first_name="Jeanne",
                last_name="Dupont",
                email="jeanne@exemple.fr",
                received_at=now,
                updated_at=now,
                sender_id="citizen",
                submission_key="k" * 32,
                letter_key="l" * 32,
            )
        ).inserted_primary_key[0]


# --- compose ---------------------------------------------------------------------------------
def test_compose_sets_the_headers_and_both_parts(monkeypatch):
    monkeypatch.setenv("MAIL_FROM", "Équipe d'essai <envoi@exemple.test>")
    monkeypatch.setenv("MAIL_REPLY_TO", "dpo@exemple.test")
    before = utc_now().replace(microsecond=0)
    message = compose("jeanne@exemple.fr", SUBJECT, TEXT, "<p>Bonjour</p>")
    assert message["From"].addresses[0].addr_spec == "envoi@exemple.test"
    assert message["From"].addresses[0].display_name == "Équipe d'essai"
    assert message["Reply-To"] == "dpo@exemple.test"
    assert message["To"] == "jeanne@exemple.fr"
    assert message["Subject"] == SUBJECT
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@exemple.test>")
    assert before <= email.utils.parsedate_to_datetime(message["Date"]) <= utc_now()
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == "fr"
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message.get_body(("plain",)).get_content() == TEXT
    assert message.get_body(("html",)).get_content().strip() == "<p>Bonjour</p>"
    given = new_message_id()
    assert compose("a@exemple.fr", "s", "t", "<p>h</p>", message_id=given)["Message-ID"] == given
    assert new_message_id() != given


def test_french_subject_and_bodies_survive_the_sink(sink):
    html = html_page("Accusé de réception", ["Votre demande est enregistrée : référence HDH-2026-000123."])
    message = compose("jeanne@exemple.fr", SUBJECT, TEXT, html)
    send(message, sink.url)
    [received] = maildir_messages(sink.directory)
    assert received["Subject"] == SUBJECT
    assert received["Message-ID"].strip() == message["Message-ID"]
    assert received.get_body(("plain",)).get_content() == TEXT
    assert "référence HDH-2026-000123" in received.get_body(("html",)).get_content()
    [listed] = last_messages(sink.directory)
    assert (listed["subject"], listed["to"], listed["message_id"]) == (
        SUBJECT,
        "jeanne@exemple.fr",
        message["Message-ID"],
    )
    assert listed["text"] == TEXT and "données de santé" in listed["from"]


def test_html_page_escapes_text_and_links_urls():
    page = html_page("Titre <b>", ["<script>alert('x')</script>", "Suivez https://exemple.fr/suivi?a=1&b=2. Merci"])
    assert '<html lang="fr">' in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<title>Titre &lt;b&gt;</title>" in page
    assert '<a href="https://exemple.fr/suivi?a=1&amp;b=2"' in page
    assert ">https://exemple.fr/suivi?a=1&amp;b=2</a>. Merci</p>" in page


# --- transport -------------------------------------------------------------------------------
def test_parse_smtp_url_reads_the_three_schemes():
    plain = parse_smtp_url("smtp://127.0.0.1:8025")
    assert (plain.scheme, plain.host, plain.port, plain.starttls, plain.ssl, plain.timeout) == (
        "smtp",
        "127.0.0.1",
        8025,
        False,
        False,
        10,
    )
    assert (plain.username, plain.password) == (None, None)
    assert parse_smtp_url("smtp://relais.local").port == 25
    starttls = parse_smtp_url("smtp+starttls://envoi%40exemple.fr:p%3Ass%2Fw%40rd%25@mail.exemple.fr:587?timeout=3")
    assert (starttls.username, starttls.password) == ("envoi@exemple.fr", "p:ss/w@rd%")
    assert (starttls.host, starttls.port, starttls.starttls, starttls.ssl, starttls.timeout) == (
        "mail.exemple.fr",
        587,
        True,
        False,
        3,
    )
    assert "p:ss" not in repr(starttls)
    implicit = parse_smtp_url("smtps://user:secret@mail.exemple.fr")
    assert (implicit.port, implicit.ssl, implicit.starttls, implicit.password) == (465, True, False, "secret")


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.exemple.fr",
        "mail.exemple.fr:25",
        "smtp://",
        "smtp://user:secret@mail.exemple.fr",
        "smtps://mail.exemple.fr:notaport",
        "smtps://mail.exemple.fr/inbox",
        "smtps://mail.exemple.fr?retries=3",
        "smtps://mail.exemple.fr?timeout=-1",
    ],
)
def test_parse_smtp_url_rejects_anything_else(url):
    with pytest.raises(ValueError) as error:
        parse_smtp_url(url)
    assert "secret" not in str(error.value)


def test_sink_stores_what_smtplib_sends_and_lists_the_newest_first(sink):
    for number in (1, 2):
        raw = f"From: a@exemple.fr\r\nTo: b@exemple.fr\r\nSubject: essai {number}\r\nMessage-ID: <m{number}@x>\r\n\r\ncorps {number}\r\n"
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as client:
            assert client.sendmail("a@exemple.fr", ["b@exemple.fr"], raw.encode()) == {}
    assert len(maildir_messages(sink.directory)) == 2
    newest, oldest = last_messages(sink.directory)
    assert (newest["subject"], newest["message_id"], newest["text"].strip()) == ("essai 2", "<m2@x>", "corps 2")
    assert (oldest["subject"], oldest["to"], oldest["from"]) == ("essai 1", "b@exemple.fr", "a@exemple.fr")
    assert [m["subject"] for m in last_messages(sink.directory, limit=1)] == ["essai 2"]


def test_a_refused_address_is_a_permanent_failure_without_the_address(sink):
    with pytest.raises(PermanentFailure) as error:
        send(compose("refuse.moi@exemple.fr", SUBJECT, TEXT, "<p>x</p>"), sink.url)
    assert error.value.code == 550
    assert str(error.value) == "adresse refusée (550)"
    assert maildir_messages(sink.directory) == []


def test_an_unreachable_or_insecure_server_is_a_temporary_failure(sink):
    message = compose("jeanne@exemple.fr", SUBJECT, TEXT, "<p>x</p>")
    # The sink offers no STARTTLS and no implicit TLS: both must fail rather than send in clear.
    for url in (f"smtp+starttls://u:p@127.0.0.1:{sink.port}", f"smtps://127.0.0.1:{sink.port}?timeout=2"):
        with pytest.raises(TemporaryFailure) as error:
            send(message, url)
        assert error.value.unreachable and "jeanne" not in str(error.value)
    sink.stop()
    with pytest.raises(TemporaryFailure, match="SMTP indisponible") as error:
        send(message, sink.url)
    assert error.value.unreachable
    sink.start()
    assert maildir_messages(sink.directory) == []


def test_the_sink_listens_on_the_loopback_only(tmp_path):
    with pytest.raises(ValueError):
        MaildirSink(tmp_path / "m", host="0.0.0.0")
    assert MaildirSink(tmp_path / "m", host="0.0.0.0", allow_remote=True).host == "0.0.0.0"
    assert MaildirSink(tmp_path / "m", host="::1").url.startswith("smtp://[::1]:")


def test_sink_command_stores_mail_and_stops_on_sigterm(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "mail.sink", "--dir", str(tmp_path / "cli"), "--port", "0"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert str(tmp_path / "cli") in line
        port = int(re.search(r"smtp://127\.0\.0\.1:(\d+)", line).group(1))
        send(compose("jeanne@exemple.fr", SUBJECT, TEXT, "<p>x</p>"), f"smtp://127.0.0.1:{port}")
        assert [m["subject"] for m in last_messages(tmp_path / "cli")] == [SUBJECT]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- outbox ----------------------------------------------------------------------------------
def test_queue_is_idempotent_and_part_of_the_callers_transaction(database_url):
    first = queue_messages(database_url, ["jeanne@exemple.fr"])
    again = queue_messages(database_url, ["autre@exemple.fr"])
    assert first == again
    [row] = stored(database_url)
    assert (row["recipient"], row["status"], row["attempts"]) == ("jeanne@exemple.fr", outbox.STATUS_QUEUED, 0)
    assert row["message_id"].startswith("<") and row["message_id"].endswith(">")
    with pytest.raises(RuntimeError):
        with engine_for(database_url).begin() as connection:
            outbox.queue(
                connection, key="rolled-back", purpose="p", recipient="x@exemple.fr", subject="s", text="t", html="h"
            )
            raise RuntimeError("the caller's transaction fails")
    assert [r["idempotency_key"] for r in stored(database_url)] == ["ack:0"]


def test_deliver_due_sends_once_with_the_stored_message_id(database_url, sink):
    request_id = insert_request(database_url)
    ids = queue_messages(database_url, ["jeanne@exemple.fr", "paul@exemple.fr"], request_id=request_id)
    assert outbox.counts(database_url)[outbox.STATUS_QUEUED] == 2
    assert outbox.deliver_due(database_url, smtp_url=sink.url) == {"sent": 2, "retry": 0, "refused": 0}
    assert outbox.deliver_due(database_url, smtp_url=sink.url) == {"sent": 0, "retry": 0, "refused": 0}
    rows = stored(database_url)
    assert [r["status"] for r in rows] == [outbox.STATUS_SENT] * 2 and all(r["sent_at"] for r in rows)
    received = {m["Message-ID"].strip(): m for m in maildir_messages(sink.directory)}
    assert set(received) == {r["message_id"] for r in rows}
    assert received[rows[0]["message_id"]]["To"] == "jeanne@exemple.fr"
    assert sink.accepted == ["jeanne@exemple.fr", "paul@exemple.fr"]
    history = outbox.history_for_request(database_url, request_id)
    assert [h["id"] for h in history] == ids
    assert history[0]["status"] == outbox.STATUS_SENT and history[0]["message_id"] == rows[0]["message_id"]
    assert history[0]["sent_at"].tzinfo is not None and history[0]["last_error"] is None
    assert outbox.counts(database_url) == {outbox.STATUS_QUEUED: 0, outbox.STATUS_SENT: 2, outbox.STATUS_REFUSED: 0}


def test_smtp_down_loses_nothing_and_keeps_the_order(database_url, sink):
    recipients = ["un@exemple.fr", "deux@exemple.fr", "trois@exemple.fr"]
    queue_messages(database_url, recipients)
    created = [as_utc(r["next_attempt_at"]) for r in stored(database_url)]
    sink.stop()
    down = utc_now()
    assert outbox.deliver_due(database_url, now=down, smtp_url=sink.url) == {"sent": 0, "retry": 1, "refused": 0}
    first, *others = stored(database_url)
    assert (first["status"], first["attempts"], first["last_error"]) == (outbox.STATUS_QUEUED, 1, "SMTP indisponible")
    assert as_utc(first["next_attempt_at"]) == down + dt.timedelta(seconds=30)
    assert [(r["status"], r["attempts"], as_utc(r["next_attempt_at"])) for r in others] == [
        (outbox.STATUS_QUEUED, 0, created[1]),
        (outbox.STATUS_QUEUED, 0, created[2]),
    ]
    # Still down 40 s later: the first message backs off further (2 minutes after its 2nd try).
    later = down + dt.timedelta(seconds=40)
    assert outbox.deliver_due(database_url, now=later, smtp_url=sink.url)["retry"] == 1
    first = stored(database_url)[0]
    assert first["attempts"] == 2 and as_utc(first["next_attempt_at"]) == later + dt.timedelta(minutes=2)
    sink.start()
    back = later + dt.timedelta(minutes=3)
    assert outbox.deliver_due(database_url, now=back, smtp_url=sink.url) == {"sent": 3, "retry": 0, "refused": 0}
    assert sink.accepted == recipients
    assert sorted(m["Message-ID"].strip() for m in maildir_messages(sink.directory)) == sorted(
        r["message_id"] for r in stored(database_url)
    )
    assert outbox.deliver_due(database_url, now=back + dt.timedelta(hours=2), smtp_url=sink.url)["sent"] == 0
    assert len(maildir_messages(sink.directory)) == 3


def test_a_refused_address_is_marked_refused_and_the_others_are_delivered(database_url, sink):
    queue_messages(database_url, ["un@exemple.fr", "refuse@exemple.fr", "trois@exemple.fr"])
    assert outbox.deliver_due(database_url, smtp_url=sink.url) == {"sent": 2, "retry": 0, "refused": 1}
    rows = stored(database_url)
    assert [r["status"] for r in rows] == [outbox.STATUS_SENT, outbox.STATUS_REFUSED, outbox.STATUS_SENT]
    assert rows[1]["last_error"] == "adresse refusée (550)" and rows[1]["sent_at"] is None
    assert sink.accepted == ["un@exemple.fr", "trois@exemple.fr"]
    assert len(maildir_messages(sink.directory)) == 2
    assert outbox.counts(database_url)[outbox.STATUS_REFUSED] == 1


def test_two_parallel_senders_send_each_message_exactly_once(database_url, sink):
    recipients = [f"citoyen{n}@exemple.fr" for n in range(12)]
    queue_messages(database_url, recipients)
    start = threading.Barrier(2)
    results = []

    def sender():
        start.wait()
        results.append(outbox.deliver_due(database_url, smtp_url=sink.url))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(result["sent"] for result in results) == 12
    assert sorted(sink.accepted) == sorted(recipients)
    ids = [m["Message-ID"].strip() for m in maildir_messages(sink.directory)]
    assert len(ids) == 12 and set(ids) == {r["message_id"] for r in stored(database_url)}


def test_sender_command_sends_one_batch(tmp_path, sink):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url)
    queue_messages(url, ["jeanne@exemple.fr"])
    environment = {**os.environ, "DATABASE_URL": url, "SMTP_URL": sink.url}
    result = subprocess.run(
        [sys.executable, "-m", "mail.sender", "--once"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "sent=1 retry=0 refused=0"
    assert "jeanne" not in result.stdout + result.stderr
    assert sink.accepted == ["jeanne@exemple.fr"] and stored(url)[0]["status"] == outbox.STATUS_SENT
