"""The dashboard: conversations and fallbacks per day, facts given, unanswered questions, and the
messages to the team (received per week, median time to answer, overdue)."""

from __future__ import annotations

import datetime as dt
from typing import Dict, List

from flask import Blueprint, current_app, render_template, request

from conversations import feedback
from conversations.log import ConversationLog
from team_inbox.messages import TeamInbox
from team_inbox.processing import stats as team_stats
from training.facts import default_catalogue

blueprint = Blueprint("dashboard", __name__)


def bar_chart(values: List[tuple], max_bars: int = 31) -> Dict:
    """Data for an inline SVG bar chart (no script: allowed by the page's CSP)."""
    values = values[-max_bars:]
    top = max((v for _, v in values), default=0) or 1
    width = 20
    return {
        "bars": [
            {"label": str(k), "value": v, "x": i * (width + 4), "height": round(120 * v / top), "width": width}
            for i, (k, v) in enumerate(values)
        ],
        "width": len(values) * (width + 4),
        "top": top,
    }


@blueprint.get("/tableau-de-bord")
def dashboard():
    days = min(max(request.args.get("jours", 30, type=int) or 30, 1), 365)
    summary = ConversationLog(current_app.config["TRACKER_STORE_URL"]).dashboard(days)
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
    ratings = feedback.satisfaction(current_app.config["REPOSITORY"].engine, since)
    titles = {fact.id: fact.title for fact in default_catalogue()}
    team = team_stats(TeamInbox(current_app.config["REPOSITORY"]))
    return render_template(
        "console/dashboard.html",
        days=days,
        total=summary.total,
        per_day=bar_chart(summary.conversations_per_day),
        fallback=bar_chart(summary.fallback_rate_per_day),
        facts=summary.facts,
        unanswered=summary.unanswered,
        fallback_total=summary.fallback_total,
        satisfaction=feedback.per_fact_rows(ratings, titles),
        team=team,
        team_per_week=bar_chart([(f"S{w['monday'].isocalendar()[1]:02d}", w["count"]) for w in team["per_week"]]),
    )
