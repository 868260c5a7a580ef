"""The citizen's e-mail address is proven by a code before a request is recorded (gdpr.verification),
with a real SMTP sink and real SQLite and PostgreSQL databases."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from devtools.databases import throwaway_database
from devtools.mailbox import latest_code, messages_to
from gdpr import verification as v
from gdpr.requests import NotVerified, RequestRepository
from storage.schema import email_verifications, outgoing_emails

ADDRESS = "jeanne.dupont@example.fr"
ANSWERS = {"data_scope": "hdh_project", "first_name": "Jeanne", "last_name": "Dupont", "email": ADDRESS}


@pytest.fixture(params=["sqlite", "postgresql"])
def repo(request, tmp_path):
    with throwaway_database(request.param, tmp_path / "app.db") as url:
        yield RequestRepository(url)


def draft_for(repo, sender="citizen-1", email=ADDRESS):
    for slot, value in {**ANSWERS, "email": email}.items():
        repo.save_answer(sender, "erasure", slot, value)
    return repo.get_draft(sender)


def test_a_code_is_sent_hashed_and_proves_the_address_once(repo, smtp_sink):
    draft = draft_for(repo)
    verification = v.EmailVerification(repo)
    assert not verification.was_sent(draft)
    assert verification.send_code(draft).outcome == v.SENT
    code = latest_code(smtp_sink.directory, ADDRESS)
    assert verification.was_sent(draft) and verification.has_live_code(draft)

    with repo.engine.connect() as connection:
        stored = connection.execute(sa.select(email_verifications)).mappings().one()
        outbox = connection.execute(sa.select(sa.func.count()).select_from(outgoing_emails)).scalar_one()
    assert code not in str(dict(stored)), "the code is stored only as a keyed hash"
    assert stored["code_hash"] == v.code_hash(code) and stored["code_hash"] != v.code_hash("000000")
    assert outbox == 0, "a code never waits in the outbox, where it would be in clear"

    with pytest.raises(NotVerified):
        repo.submit(draft.sender_id)
    assert verification.check_code(draft, code[:3] + " " + code[3:]).outcome == v.VERIFIED
    assert verification.is_verified(draft)
    assert verification.check_code(draft, code).outcome == v.NO_CODE, "a code works once"
    request = repo.submit(draft.sender_id)
    assert request.status == "reçue" and request.email == ADDRESS


def test_five_wrong_codes_end_the_code(repo, smtp_sink):
    draft = draft_for(repo)
    verification = v.EmailVerification(repo)
    verification.send_code(draft)
    code = latest_code(smtp_sink.directory, ADDRESS)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    results = [verification.check_code(draft, wrong) for _ in range(5)]
    assert [r.outcome for r in results] == [v.WRONG] * 4 + [v.EXHAUSTED]
    assert [r.attempts_left for r in results] == [4, 3, 2, 1, 0]
    assert verification.check_code(draft, code).outcome == v.EXHAUSTED, "the right code no longer works"
    with pytest.raises(NotVerified):
        repo.submit(draft.sender_id)


def test_concurrent_guesses_cannot_exceed_five_attempts(repo, smtp_sink):
    draft = draft_for(repo)
    verification = v.EmailVerification(repo)
    verification.send_code(draft)
    code = latest_code(smtp_sink.directory, ADDRESS)
    guesses = [f"{(int(code) + i) % 1_000_000:06d}" for i in range(1, 21)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda g: verification.check_code(draft, g).outcome, guesses))
    assert outcomes.count(v.WRONG) + outcomes.count(v.EXHAUSTED) == 20
    with repo.engine.connect() as connection:
        assert connection.execute(sa.select(email_verifications.c.attempts)).scalar_one() == 5


def test_an_expired_code_is_refused(repo, smtp_sink):
    draft = draft_for(repo)
    verification = v.EmailVerification(repo)
    sent_at = dt.datetime.now(dt.timezone.utc)
    verification.send_code(draft, now=sent_at)
    code = latest_code(smtp_sink.directory, ADDRESS)
    later = sent_at + v.CODE_VALIDITY + dt.timedelta(seconds=1)
    assert verification.check_code(draft, code, now=later).outcome == v.EXPIRED
    assert verification.check_code(draft, code, now=sent_at + dt.timedelta(minutes=9)).outcome == v.VERIFIED


def test_a_new_code_replaces_the_previous_one(repo, smtp_sink):
    draft = draft_for(repo)
    verification = v.EmailVerification(repo)
    verification.send_code(draft)
    first = latest_code(smtp_sink.directory, ADDRESS)
    verification.send_code(draft)
    second = latest_code(smtp_sink.directory, ADDRESS)
    if first != second:  # one chance in a million that they are equal
        assert verification.check_code(draft, first).outcome == v.WRONG
    assert verification.check_code(draft, second).outcome == v.VERIFIED


def test_three_codes_per_hour_per_address_and_per_conversation(repo, smtp_sink):
    now = dt.datetime.now(dt.timezone.utc)
    verification = v.EmailVerification(repo)
    draft = draft_for(repo, "citizen-1")
    assert [verification.send_code(draft, now=now).outcome for _ in range(3)] == [v.SENT] * 3
    limited = verification.send_code(draft, now=now + dt.timedelta(minutes=5))
    assert limited.outcome == v.RATE_LIMITED and limited.retry_after == now + dt.timedelta(hours=1)
    # The same address from another conversation: still limited (per address).
    other = draft_for(repo, "citizen-2")
    assert verification.send_code(other, now=now).outcome == v.RATE_LIMITED
    # The same conversation with another address: limited too (per conversation).
    repo.save_answer("citizen-1", "erasure", "email", "autre@example.fr")
    assert verification.send_code(repo.get_draft("citizen-1"), now=now).outcome == v.RATE_LIMITED
    assert len(messages_to(smtp_sink.directory, ADDRESS)) == 3
    # An hour later, a code can be sent again.
    assert verification.send_code(draft, now=now + dt.timedelta(hours=1, seconds=1)).outcome == v.SENT


def test_a_verified_address_that_is_then_corrected_must_be_proven_again(repo, smtp_sink):
    draft = draft_for(repo)
    verification = v.EmailVerification(repo)
    verification.send_code(draft)
    assert verification.check_code(draft, latest_code(smtp_sink.directory, ADDRESS)).outcome == v.VERIFIED
    repo.save_answer(draft.sender_id, "erasure", "email", "jeanne.autre@example.fr")
    corrected = repo.get_draft(draft.sender_id)
    assert not verification.is_verified(corrected) and not verification.was_sent(corrected)
    with pytest.raises(NotVerified):
        repo.submit(draft.sender_id)


def test_smtp_down_sends_nothing_and_counts_nothing(repo, smtp_sink, monkeypatch):
    from devtools.servers import free_port

    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    draft = draft_for(repo)
    verification = v.EmailVerification(repo)
    assert verification.send_code(draft).outcome == v.SEND_FAILED
    assert not verification.was_sent(draft)
    monkeypatch.setenv("SMTP_URL", smtp_sink.url)
    assert [verification.send_code(draft).outcome for _ in range(3)] == [v.SENT] * 3


def test_a_refused_address_is_reported(repo, tmp_path, monkeypatch):
    from mail.sink import MaildirSink

    with MaildirSink(tmp_path / "refusing", port=0, refuse=lambda address: True) as sink:
        monkeypatch.setenv("SMTP_URL", sink.url)
        monkeypatch.setenv("EMAIL_CODE_KEY", "k")
        draft = draft_for(repo)
        assert v.EmailVerification(repo).send_code(draft).outcome == v.ADDRESS_REFUSED


def test_typed_codes_are_read_strictly():
    assert v.normalise_code(" 482913 ") == "482913"
    assert v.normalise_code("482 913") == v.normalise_code("482-913") == "482913"
    assert v.normalise_code("4829130") is None
    assert v.normalise_code("le code 482913") is None
    assert v.normalise_code("48291a") is None
