"""The requests queue: list by deadline with filters, CSV export, one request's page, and the
team's actions on it: status changes, transmission to the controller, extension of the deadline
(gdpr.processing). Each action queues the e-mail telling the citizen in its own transaction;
the page then tries to send it at once (the sender process retries otherwise)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Optional

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, url_for

import settings
from console.dev_mail import sink_page_available
from gdpr import deadlines
from gdpr.kinds import CSV_COLUMNS
from gdpr.processing import (
    ACTION_LABELS,
    EXTENSION_MONTHS,
    PURPOSE_LABELS,
    TRANSMISSION_CHANNELS,
    deliver_now,
    extend_deadline,
    extension_refusal,
    known_controllers,
    queue_rows,
    record_transmission,
    transmission_refusal,
)
from gdpr.requests import STATUSES, StatusChangeError, change_status, status_history

blueprint = Blueprint("requests", __name__)


def repository():
    return current_app.config["REPOSITORY"]


@blueprint.app_template_filter("heure_paris")
def paris_time(moment: Optional[dt.datetime], pattern: str = "%d/%m/%Y %H:%M") -> str:
    """A stored UTC timestamp on the operators' clock (France)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:  # SQLite stores naive UTC
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(deadlines.PARIS).strftime(pattern)


def _filters():
    status = request.args.get("statut") or None
    controller = (request.args.get("responsable") or "").strip()[:200] or None
    return (status if status in STATUSES else None), controller


@blueprint.get("/demandes")
def requests_queue():
    status, controller = _filters()
    rows = queue_rows(repository(), status, controller)
    return render_template(
        "console/requests.html",
        rows=rows,
        status=status,
        statuses=STATUSES,
        controller=controller,
        controllers=known_controllers(repository()),
        mail_page=sink_page_available(),
    )


@blueprint.get("/demandes.csv")
def requests_csv():
    status, controller = _filters()
    output = io.StringIO()
    writer = csv.writer(output, delimiter=";")
    writer.writerow(CSV_COLUMNS)
    for row in queue_rows(repository(), status, controller):
        # Cells starting with = + - @ would be formulas in a spreadsheet: neutralise them.
        writer.writerow(
            ["'" + str(v) if str(v)[:1] in "=+-@" else v for v in (_csv_value(row.get(c)) for c in CSV_COLUMNS)]
        )
    return Response(
        output.getvalue(),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=demandes.csv"},
    )


def _csv_value(value):
    return "" if value is None else value


def _detail_page(reference: str, error: Optional[str] = None, form: Optional[str] = None):
    """The request's page; after an error, the form `form` keeps what the operator typed."""
    stored = repository().find_by_reference(reference) if len(reference) <= 20 else None
    if stored is None:
        abort(404)
    from mail.outbox import history_for_request

    today = deadlines.today()
    emails = history_for_request(repository().url, stored.id)
    typed = request.form if error else {}
    return render_template(
        "console/request.html",
        request=stored,
        history=status_history(repository(), reference),
        action_labels=ACTION_LABELS,
        emails=emails,
        purpose_labels=PURPOSE_LABELS,
        refused_emails=[e for e in emails if e["status"] == "refusé"],
        statuses=STATUSES,
        channels=TRANSMISSION_CHANNELS,
        extension_months=EXTENSION_MONTHS,
        deadline_start=deadlines.deadline_start(stored),
        starts_on=settings.deadline_starts_on(),
        transmission_refusal=transmission_refusal(stored),
        extension_refusal=extension_refusal(stored, today),
        today=today,
        error=error,
        error_form=form,
        typed=typed if form else {},
        # After an error the operator's choice and reason stay in the status form.
        chosen_status=typed.get("statut") if form == "statut" else None,
        draft_reason=typed.get("motif") if form == "statut" else None,
    ), (400 if error else 200)


def _done(reference: str, outbox_ids):
    deliver_now(repository().url, outbox_ids)
    return redirect(url_for("console.requests.request_detail", reference=reference))


@blueprint.route("/demandes/<reference>", methods=["GET", "POST"])
def request_detail(reference: str):
    if request.method == "POST":
        try:
            queued = change_status(
                repository(),
                reference,
                request.form.get("statut", ""),
                request.form.get("motif"),
                g.operator,
                seen_status=request.form.get("statut_vu") or None,
            )
        except StatusChangeError as problem:
            return _detail_page(reference, str(problem), "statut")
        return _done(reference, queued)
    return _detail_page(reference)


def _parse_day(text: str) -> Optional[dt.date]:
    """A date typed as 2026-03-02 (input type=date) or 02/03/2026."""
    text = (text or "").strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


@blueprint.post("/demandes/<reference>/transmission")
def request_transmission(reference: str):
    day = _parse_day(request.form.get("date_transmission", ""))
    try:
        if day is None:
            raise StatusChangeError("Indiquez la date de la transmission (format jj/mm/aaaa).")
        queued = record_transmission(
            repository(),
            reference,
            transmitted_on=day,
            transmitted_to=request.form.get("organisation"),
            channel=request.form.get("canal", ""),
            operator=g.operator,
        )
    except StatusChangeError as problem:
        return _detail_page(reference, str(problem), "transmission")
    return _done(reference, queued)


@blueprint.post("/demandes/<reference>/prolongation")
def request_extension(reference: str):
    try:
        months = int(request.form.get("mois", ""))
    except ValueError:
        months = 0
    try:
        queued = extend_deadline(
            repository(),
            reference,
            months=months,
            reason=request.form.get("motif_prolongation", ""),
            operator=g.operator,
        )
    except StatusChangeError as problem:
        return _detail_page(reference, str(problem), "prolongation")
    return _done(reference, queued)
