"""Operator console (/console): login, the requests queue, and the conversation logs.

Every page and export requires a logged-in operator; every form carries a CSRF token;
templates escape all text (Jinja autoescape); status changes are recorded with the
operator's name in the audit trail.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import secrets
import time
from collections import Counter, defaultdict, deque
from functools import wraps
from typing import Deque, Dict, List, Optional

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, session, url_for

from mesdonnees.database import engine_for
from mesdonnees.operators import OperatorError, authenticate, change_status, status_history
from mesdonnees.requests_repository import STATUSES, gdpr_requests
from mesdonnees.reviews import TAGS, ReviewError, add_review, corrections_as_nlu_yaml, labels, reviews_of

console = Blueprint("console", __name__, url_prefix="/console")
PAGE_SIZE = 50
LOGIN_WINDOW_SECONDS = 300
LOGIN_FREE_ATTEMPTS = 3
_failures: Dict[str, Deque[float]] = defaultdict(deque)


def repository():
    return current_app.config["REPOSITORY"]


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not session.get("operator"):
            return redirect(url_for("console.login", suivant=request.path))
        g.operator = session["operator"]
        return view(*args, **kwargs)
    return wrapped


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@console.before_request
def check_csrf():
    if request.method == "POST":
        sent = request.form.get("csrf", "")
        if not session.get("csrf") or not secrets.compare_digest(sent.encode(), session["csrf"].encode()):
            abort(400, "Jeton CSRF manquant ou invalide : rechargez la page.")


@console.after_request
def never_cached(response):
    """Console pages and exports show personal data: no browser or proxy may keep them."""
    response.headers["Cache-Control"] = "no-store"
    return response


@console.app_context_processor
def inject_csrf():
    return {"csrf_token": csrf_token}


def _login_delay(key: str) -> int:
    """Seconds to wait before another attempt: doubles after each failure beyond three."""
    now = time.monotonic()
    attempts = _failures[key]
    while attempts and attempts[0] < now - LOGIN_WINDOW_SECONDS:
        attempts.popleft()
    extra = len(attempts) - LOGIN_FREE_ATTEMPTS
    if extra < 0:
        return 0
    wait = min(2 ** extra, 300)
    return max(0, int(attempts[-1] + wait - now))


def safe_return_path(target: str) -> Optional[str]:
    """Where to go after login: a console path only, never another site nor a header break."""
    if not target.startswith("/console/") or len(target) > 500:
        return None
    if "//" in target or "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    return target


@console.route("/connexion", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        username = request.form.get("identifiant", "").strip().lower()[:100]
        key = f"{request.remote_addr}|{username}"
        wait = _login_delay(key)
        if wait:
            error = f"Trop de tentatives : réessayez dans {wait} secondes."
            return render_template("console/login.html", error=error), 429
        if authenticate(repository(), username, request.form.get("mot_de_passe", "")):
            _failures.pop(key, None)
            session.clear()
            session["operator"] = username
            session.permanent = True
            return redirect(safe_return_path(request.args.get("suivant", "")) or url_for("console.requests_queue"))
        _failures[key].append(time.monotonic())
        error = "Identifiant ou mot de passe incorrect."
        return render_template("console/login.html", error=error), 401
    return render_template("console/login.html", error=error)


@console.post("/deconnexion")
def logout():
    session.clear()
    return redirect(url_for("console.login"))


# --- Requests queue ----------------------------------------------------------------------
def _request_rows(status: Optional[str]):
    query = sa.select(gdpr_requests).order_by(gdpr_requests.c.deadline, gdpr_requests.c.id)
    if status in STATUSES:
        query = query.where(gdpr_requests.c.status == status)
    with repository().engine.connect() as connection:
        return connection.execute(query).mappings().all()


def urgency(row, today: dt.date) -> str:
    if row["status"] in ("traitée", "refusée"):
        return "close"
    if row["deadline"] < today:
        return "overdue"
    if row["deadline"] <= today + dt.timedelta(days=7):
        return "soon"
    return "ok"


@console.get("/")
@console.get("/demandes")
@login_required
def requests_queue():
    status = request.args.get("statut")
    today = dt.date.today()
    rows = [dict(r, urgency=urgency(r, today)) for r in _request_rows(status)]
    return render_template("console/requests.html", rows=rows, status=status, statuses=STATUSES)


@console.get("/demandes.csv")
@login_required
def requests_csv():
    output = io.StringIO()
    writer = csv.writer(output, delimiter=";")
    columns = ["reference", "kind", "status", "status_reason", "received_at", "deadline", "controller",
               "first_name", "last_name", "email", "wrong_data", "correct_data", "objection_reason"]
    writer.writerow(columns)
    for row in _request_rows(request.args.get("statut")):
        # Cells starting with = + - @ would be formulas in a spreadsheet: neutralise them.
        writer.writerow(["'" + str(v) if str(v)[:1] in "=+-@" else v for v in (row[c] for c in columns)])
    return Response(output.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=demandes.csv"})


@console.route("/demandes/<reference>", methods=["GET", "POST"])
@login_required
def request_detail(reference: str):
    error = None
    if request.method == "POST":
        try:
            change_status(repository(), reference, request.form.get("statut", ""), request.form.get("motif"), g.operator,
                          seen_status=request.form.get("statut_vu") or None)
            return redirect(url_for("console.request_detail", reference=reference))
        except OperatorError as problem:
            error = str(problem)
    stored = repository().find_by_reference(reference) if len(reference) <= 20 else None
    if stored is None:
        abort(404)
    # After an error the operator's choice and reason stay in the form.
    chosen = request.form.get("statut") if error else None
    return render_template("console/request.html", request=stored, history=status_history(repository(), reference),
                           statuses=STATUSES, error=error, chosen_status=chosen,
                           draft_reason=request.form.get("motif") if error else None), (400 if error else 200)


# --- Conversations ----------------------------------------------------------------------------
def tracker_engine():
    return engine_for(current_app.config["TRACKER_STORE_URL"])


def _parse_date(value: Optional[str]) -> Optional[float]:
    try:
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.timezone.utc).timestamp() if value else None
    except ValueError:
        return None


@console.get("/conversations")
@login_required
def conversations():
    """List with filters as URL parameters and keyset pagination (by last activity)."""
    args = request.args
    conditions, params = [], {}
    start, end = _parse_date(args.get("du")), _parse_date(args.get("au"))
    having = []
    if start is not None:
        having.append("max(timestamp) >= :start"); params["start"] = start
    if end is not None:
        having.append("max(timestamp) < :end"); params["end"] = end + 86400
    if args.get("repli") == "1":
        conditions.append("sender_id IN (SELECT sender_id FROM events WHERE type_name = 'bot' AND data LIKE :fallback)")
        params["fallback"] = '%"fallback":%'
    if args.get("demande") == "1":
        conditions.append("sender_id IN (SELECT sender_id FROM events WHERE action_name LIKE :form)")
        params["form"] = "%_request_form"
    if args.get("fait"):
        conditions.append("sender_id IN (SELECT sender_id FROM events WHERE type_name = 'slot' AND data LIKE :fact)")
        params["fact"] = '%"name": "last_fact_id", "value": ' + json.dumps(args["fait"][:60]) + "%"
    if args.get("q"):
        conditions.append("sender_id IN (SELECT sender_id FROM events WHERE type_name = 'user' AND lower(data) LIKE :q)")
        params["q"] = "%" + json.dumps(args["q"][:100].lower())[1:-1] + "%"
    confidence = _confidence_sql()
    below = args.get("confiance_max", type=float)
    if below is not None:
        having.append(f"min({confidence}) < :below"); params["below"] = below
    after_ts, after_id = _parse_cursor(args.get("apres"))
    if after_ts is not None:
        having.append("(max(timestamp) < :after_ts OR (max(timestamp) = :after_ts AND sender_id < :after_id))")
        params.update(after_ts=after_ts, after_id=after_id)
    sql = (
        "SELECT sender_id, min(timestamp) AS started, max(timestamp) AS last, "
        "sum(CASE WHEN type_name = 'user' THEN 1 ELSE 0 END) AS turns, "
        "sum(CASE WHEN type_name = 'bot' AND data LIKE '%\"fallback\":%' THEN 1 ELSE 0 END) AS fallbacks, "
        "sum(CASE WHEN action_name LIKE '%_request_form' THEN 1 ELSE 0 END) AS forms, "
        f"min({confidence}) AS lowest_confidence "
        "FROM events" + (" WHERE " + " AND ".join(conditions) if conditions else "") +
        " GROUP BY sender_id" + (" HAVING " + " AND ".join(having) if having else "") +
        f" ORDER BY last DESC, sender_id DESC LIMIT {PAGE_SIZE + 1}"
    )
    with tracker_engine().connect() as connection:
        rows = [dict(r) for r in connection.execute(sa.text(sql), params).mappings()]
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    facts = _facts_answered([r["sender_id"] for r in rows])
    for row in rows:
        row["facts"] = sorted(facts.get(row["sender_id"], ()))
        row["last_dt"] = dt.datetime.fromtimestamp(row["last"], dt.timezone.utc)
    cursor = f"{rows[-1]['last']!r}|{rows[-1]['sender_id']}" if more and rows else None
    return render_template("console/conversations.html", rows=rows, cursor=cursor, args=args)


def _confidence_sql() -> str:
    """The NLU confidence of a user event, extracted from its JSON in the database's dialect."""
    if tracker_engine().dialect.name == "postgresql":
        return ("CASE WHEN type_name = 'user' THEN "
                "CAST(CAST(data AS json)->'parse_data'->'intent'->>'confidence' AS float) END")
    return "CASE WHEN type_name = 'user' THEN CAST(json_extract(data, '$.parse_data.intent.confidence') AS REAL) END"


def _parse_cursor(value: Optional[str]):
    if not value or "|" not in value:
        return None, None
    ts, sender = value.split("|", 1)
    try:
        return float(ts), sender
    except ValueError:
        return None, None


def _facts_answered(senders: List[str]) -> Dict[str, set]:
    if not senders:
        return {}
    query = sa.text("SELECT sender_id, data FROM events WHERE type_name = 'slot' AND sender_id IN :senders "
                    "AND data LIKE '%\"last_fact_id\"%'").bindparams(sa.bindparam("senders", expanding=True))
    result: Dict[str, set] = defaultdict(set)
    with tracker_engine().connect() as connection:
        for sender, data in connection.execute(query, {"senders": senders}):
            value = json.loads(data).get("value")
            if value:
                result[sender].add(value)
    return result


def _events(sender_id: str):
    with tracker_engine().connect() as connection:
        return connection.execute(sa.text("SELECT id, data FROM events WHERE sender_id = :s ORDER BY id"),
                                  {"s": sender_id[:255]}).all()


@console.route("/conversations/<path:sender_id>", methods=["GET", "POST"])
@login_required
def transcript(sender_id: str):
    rows = _events(sender_id)
    if not rows:
        abort(404)
    error = None
    if request.method == "POST":
        event_id = request.form.get("evenement", type=int)
        texts = {row_id: json.loads(data).get("text") for row_id, data in rows}
        try:
            if event_id is not None and event_id not in texts:
                raise ReviewError("Message introuvable dans cette conversation.")
            add_review(repository(), sender_id, g.operator, request.form.get("etiquette"), request.form.get("note"),
                       request.form.get("correction"), event_id, texts.get(event_id))
            return redirect(url_for("console.transcript", sender_id=sender_id))
        except ReviewError as problem:
            error = str(problem)
    turns = []
    for row_id, raw in rows:
        event = json.loads(raw)
        when = dt.datetime.fromtimestamp(event.get("timestamp") or 0, dt.timezone.utc)
        if event.get("event") == "user":
            intent = (event.get("parse_data") or {}).get("intent") or {}
            selected = (((event.get("parse_data") or {}).get("response_selector") or {}).get("faq") or {}).get("response") or {}
            turns.append({"who": "user", "text": event.get("text"), "when": when, "intent": intent.get("name"),
                          "confidence": intent.get("confidence"), "id": row_id,
                          "selected": selected.get("intent_response_key"), "selected_confidence": selected.get("confidence")})
        elif event.get("event") == "bot":
            custom = (event.get("data") or {}).get("custom") or {}
            turns.append({"who": "bot", "text": event.get("text"), "when": when, "fact_id": custom.get("fact_id"),
                          "sources": custom.get("sources") or [], "form": custom.get("form"),
                          "fallback": custom.get("fallback")})
    return render_template("console/transcript.html", sender_id=sender_id, turns=turns, tags=TAGS, labels=labels(),
                           reviews=reviews_of(repository(), sender_id), error=error), (400 if error else 200)


@console.get("/corrections.yml")
@login_required
def corrections_export():
    return Response(corrections_as_nlu_yaml(repository()), mimetype="application/x-yaml; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=corrections-nlu.yml"})


# --- Dashboard --------------------------------------------------------------------------------
def bar_chart(values: List[tuple], max_bars: int = 31) -> Dict:
    """Data for an inline SVG bar chart (no script: allowed by the page's CSP)."""
    values = values[-max_bars:]
    top = max((v for _, v in values), default=0) or 1
    width = 20
    return {"bars": [{"label": str(k), "value": v, "x": i * (width + 4), "height": round(120 * v / top), "width": width}
                     for i, (k, v) in enumerate(values)], "width": len(values) * (width + 4), "top": top}


@console.get("/tableau-de-bord")
@login_required
def dashboard():
    days = min(max(request.args.get("jours", 30, type=int) or 30, 1), 365)
    since = time.time() - days * 86400
    with tracker_engine().connect() as connection:
        starts = connection.execute(sa.text(
            "SELECT sender_id, min(timestamp) FROM events GROUP BY sender_id HAVING min(timestamp) >= :since"),
            {"since": since}).all()
        fallback_senders = set(connection.execute(sa.text(
            "SELECT DISTINCT sender_id FROM events WHERE type_name = 'bot' AND timestamp >= :since AND data LIKE :f"),
            {"since": since, "f": '%"fallback":%'}).scalars())
        fact_rows = connection.execute(sa.text(
            "SELECT data FROM events WHERE type_name = 'slot' AND timestamp >= :since AND data LIKE :s"),
            {"since": since, "s": '%"name": "last_fact_id", "value": "%'}).scalars().all()
        recent = connection.execute(sa.text(
            "SELECT sender_id, type_name, data FROM events WHERE timestamp >= :since AND type_name IN ('user', 'bot') "
            "ORDER BY sender_id, id"), {"since": since}).all()
    per_day: Dict[str, List[str]] = defaultdict(list)
    for sender, started in starts:
        per_day[dt.datetime.fromtimestamp(started, dt.timezone.utc).date().isoformat()].append(sender)
    ordered = sorted(per_day.items())
    conversations_per_day = [(day[5:], len(s)) for day, s in ordered]
    fallback_rate = [(day[5:], round(100 * sum(x in fallback_senders for x in s) / len(s))) for day, s in ordered]
    facts = Counter(json.loads(d).get("value") for d in fact_rows)
    unanswered: Counter = Counter()
    last_user: Dict[str, str] = {}
    for sender, kind, data in recent:
        event = json.loads(data)
        if kind == "user":
            last_user[sender] = (event.get("text") or "").strip().lower()
        elif '"fallback"' in data and last_user.get(sender):
            unanswered[last_user.pop(sender)] += 1
    return render_template(
        "console/dashboard.html", days=days, total=len(starts),
        per_day=bar_chart(conversations_per_day), fallback=bar_chart(fallback_rate),
        facts=facts.most_common(10), unanswered=unanswered.most_common(10),
        fallback_total=len(fallback_senders & {s for s, _ in starts}),
    )
