"""Requests are stored durably, once, with a unique reference — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from devtools.databases import throwaway_database
from gdpr.requests import (
    NoDraft,
    RequestRepository,
    StorageUnavailable,
    legal_deadline,
)
from settings import PROJECT_ROOT
from storage.database import engine_for, migrate
from tests.verified_drafts import mark_verified, submit_verified

ANSWERS = {"data_scope": "hdh_project", "first_name": "Jeanne", "last_name": "Dupont", "email": "jeanne@example.fr"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    with throwaway_database(request.param, tmp_path / "app.db") as url:
        yield url


def fill_draft(repo, sender, kind="erasure", **extra):
    for slot, value in {**ANSWERS, **extra}.items():
        repo.save_answer(sender, kind, slot, value)


def test_migrations_apply_on_an_empty_database(database_url):
    migrate(database_url)
    inspector = sa.inspect(engine_for(database_url))
    assert {
        "gdpr_requests",
        "request_drafts",
        "request_status_changes",
        "operators",
        "reviews",
        "answer_feedback",
        "alembic_version",
    } <= set(inspector.get_table_names())
    latest = sorted(p.name[:4] for p in (PROJECT_ROOT / "migrations" / "versions").glob("0*.py"))[-1]
    with engine_for(database_url).connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == latest
    migrate(database_url)  # idempotent


def test_submit_stores_the_request_with_reference_status_deadline_and_controller(database_url, monkeypatch):
    monkeypatch.setenv("DEADLINE_STARTS_ON", "verification")  # the deadline runs from the recording
    repo = RequestRepository(database_url)
    fill_draft(repo, "citizen", kind="rectification", wrong_data="mauvaise date", correct_data="12/03/2024")
    received = dt.datetime(2026, 1, 31, 10, 0, tzinfo=dt.timezone.utc)
    request = submit_verified(repo, "citizen", now=received)
    assert request.reference.startswith("HDH-2026-") and len(request.reference) == len("HDH-2026-000123")
    assert request.status == "reçue"
    # 28 February 2026 is a Saturday: the deadline moves to Monday 2 March (Regulation 1182/71 art. 3.4).
    assert request.deadline == request.initial_deadline == dt.date(2026, 3, 2)
    assert "Health Data Hub" in request.controller
    assert (request.wrong_data, request.correct_data) == ("mauvaise date", "12/03/2024")
    assert repo.get_draft("citizen") is None, "the draft is deleted with the submission"
    with engine_for(database_url).connect() as connection:
        audit = connection.execute(
            sa.text("SELECT old_status, new_status, changed_by FROM request_status_changes")
        ).all()
    assert [tuple(r) for r in audit] == [(None, "reçue", "assistant")]


def test_controller_follows_the_data_scope(database_url):
    repo = RequestRepository(database_url)
    fill_draft(repo, "c2", data_scope="health_insurance")
    assert "Assurance maladie" in submit_verified(repo, "c2").controller


def test_changing_form_kind_starts_a_new_draft(database_url):
    repo = RequestRepository(database_url)
    fill_draft(repo, "c3", kind="erasure")
    repo.save_answer("c3", "access", "first_name", "Ali")
    draft = repo.get_draft("c3")
    assert draft.kind == "access" and draft.answers == {"first_name": "Ali"}


def test_incomplete_or_missing_draft_is_not_submitted(database_url):
    repo = RequestRepository(database_url)
    with pytest.raises(NoDraft):
        repo.submit("nobody")
    repo.save_answer("half", "erasure", "first_name", "Ali")
    with pytest.raises(NoDraft):
        repo.submit("half")
    assert repo.count() == 0


@pytest.mark.parametrize(
    "kind, own_answers",
    [
        ("rectification", {"wrong_data": "mauvaise date", "correct_data": "12/03/2024"}),
        ("objection", {"objection_reason": "ma situation"}),
    ],
)
def test_a_draft_missing_an_answer_its_kind_needs_is_not_submitted(database_url, kind, own_answers):
    repo = RequestRepository(database_url)
    for missing in own_answers:
        sender = f"{kind}-without-{missing}"
        fill_draft(repo, sender, kind=kind, **{k: v for k, v in own_answers.items() if k != missing})
        with pytest.raises(NoDraft, match=missing):
            repo.submit(sender)
    assert repo.count() == 0
    fill_draft(repo, "complete", kind=kind, **own_answers)
    assert submit_verified(repo, "complete").kind == kind


def test_fifty_concurrent_submissions_get_fifty_distinct_references(database_url, results_dir):
    repo = RequestRepository(database_url)
    senders = [f"citizen-{i}" for i in range(50)]
    for sender in senders:
        fill_draft(repo, sender)
        mark_verified(repo, sender)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=50) as pool:
        references = list(pool.map(lambda s: RequestRepository(database_url).submit(s).reference, senders))
    elapsed = time.monotonic() - started
    assert len(set(references)) == 50
    assert repo.count() == 50
    dialect = database_url.split(":")[0]
    with open(results_dir / "concurrency.txt", "a") as report:
        report.write(f"{dialect}: 50 concurrent submissions -> 50 distinct references, 50 rows, {elapsed:.2f} s\n")


def test_a_submission_records_the_acknowledgement_in_the_same_transaction(database_url):
    from mail.outbox import STATUS_QUEUED, counts

    repo = RequestRepository(database_url)
    fill_draft(repo, "ack")
    request = submit_verified(repo, "ack")
    assert repo.acknowledgement_email(request)["status"] == STATUS_QUEUED
    assert counts(database_url)[STATUS_QUEUED] == 1


def test_a_retried_submission_gives_one_row(database_url):
    repo = RequestRepository(database_url)
    fill_draft(repo, "double-click")
    mark_verified(repo, "double-click")

    def attempt(_):
        try:
            return RequestRepository(database_url).submit("double-click").reference
        except NoDraft:
            return None

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(attempt, range(10)))
    stored = {o for o in outcomes if o}
    assert len(stored) == 1
    assert repo.count() == 1
    from mail.outbox import counts

    assert sum(counts(database_url).values()) == 1, "one acknowledgement, whatever the retries"


def test_two_operators_deciding_at_once_one_wins_and_the_others_are_told(database_url):
    from gdpr.requests import StatusChangeError, change_status

    repo = RequestRepository(database_url)
    fill_draft(repo, "contested")
    reference = submit_verified(repo, "contested").reference
    decisions = [(f"agent{i}", ("en cours", "traitée", "refusée")[i % 3]) for i in range(6)]

    def decide(decision):
        operator, status = decision
        try:
            change_status(repo, reference, status, "motif de la décision", operator, seen_status="reçue")
            return operator
        except StatusChangeError as error:
            return str(error)

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(decide, decisions))
    winners = [o for o in outcomes if o.startswith("agent")]
    assert len(winners) == 1
    winning_status = dict(decisions)[winners[0]]
    told = [o for o in outcomes if not o.startswith("agent")]
    assert all(f"{winners[0]} a passé cette demande au statut « {winning_status} »" in o for o in told), told
    with engine_for(database_url).connect() as connection:
        history = connection.execute(
            sa.text("SELECT old_status, new_status FROM request_status_changes ORDER BY id")
        ).all()
    assert [tuple(r) for r in history] == [(None, "reçue"), ("reçue", winning_status)]
    assert repo.find_by_reference(reference).status == winning_status


def test_database_down_raises_storage_unavailable():
    repo = RequestRepository("postgresql://postgres@127.0.0.1:1/nowhere")
    with pytest.raises(StorageUnavailable):
        repo.save_answer("x", "erasure", "first_name", "Ali")
    with pytest.raises(StorageUnavailable):
        repo.submit("x")


def test_legal_deadline_is_one_calendar_month():
    assert legal_deadline(dt.date(2026, 11, 29)) == dt.date(2026, 12, 29)
    assert legal_deadline(dt.date(2028, 1, 31)) == dt.date(2028, 2, 29)
    # Since gdpr.deadlines: a month ending on a Saturday, a Sunday or a public holiday ends on the
    # next working day (Regulation 1182/71 art. 3.4); tests/test_deadlines.py has every case.
    assert legal_deadline(dt.date(2026, 1, 31)) == dt.date(2026, 3, 2)  # 28 February 2026: a Saturday
    assert legal_deadline(dt.date(2026, 4, 1)) == dt.date(2026, 5, 4)  # Friday 1 May, then the weekend
