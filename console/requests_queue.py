"""The requests queue: list by deadline, CSV export, one request's page and status changes."""

from __future__ import annotations

import csv
import datetime as dt
import io

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, url_for

from gdpr.kinds import CSV_COLUMNS
from gdpr.requests import CLOSED_STATUSES, STATUSES, StatusChangeError, change_status, status_history

blueprint = Blueprint("requests", __name__)


def repository():
    return current_app.config["REPOSITORY"]


def urgency(row, today: dt.date) -> str:
    if row["status"] in CLOSED_STATUSES:
        return "close"
    if row["deadline"] < today:
        return "overdue"
    if row["deadline"] <= today + dt.timedelta(days=7):
        return "soon"
    return "ok"


@blueprint.get("/")
@blueprint.get("/demandes")
def requests_queue():
    status = request.args.get("statut")
    today = dt.date.today()
    rows = [dict(r, urgency=urgency(r, today)) for r in repository().list_requests(status)]
    return render_template("console/requests.html", rows=rows, status=status, statuses=STATUSES)


@blueprint.get("/demandes.csv")
def requests_csv():
    output = io.StringIO()
    writer = csv.writer(output, delimiter=";")
    writer.writerow(CSV_COLUMNS)
    for row in repository().list_requests(request.args.get("statut")):
        # Cells starting with = + - @ would be formulas in a spreadsheet: neutralise them.
        writer.writerow(["'" + str(v) if str(v)[:1] in "=+-@" else v for v in (row[c] for c in CSV_COLUMNS)])
    return Response(
        output.getvalue(),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=demandes.csv"},
    )


@blueprint.route("/demandes/<reference>", methods=["GET", "POST"])
def request_detail(reference: str):
    error = None
    if request.method == "POST":
        try:
            change_status(
                repository(),
                reference,
                request.form.get("statut", ""),
                request.form.get("motif"),
                g.operator,
                seen_status=request.form.get("statut_vu") or None,
            )
            return redirect(url_for("console.requests.request_detail", reference=reference))
        except StatusChangeError as problem:
            error = str(problem)
    stored = repository().find_by_reference(reference) if len(reference) <= 20 else None
    if stored is None:
        abort(404)
    # After an error the operator's choice and reason stay in the form.
    chosen = request.form.get("statut") if error else None
    return render_template(
        "console/request.html",
        request=stored,
        history=status_history(repository(), reference),
        statuses=STATUSES,
        error=error,
        chosen_status=chosen,
        draft_reason=request.form.get("motif") if error else None,
    ), (400 if error else 200)
