"""« Faits à revoir »: facts citizens rated badly, reported as wrong, or verified too long ago.

The catalogue stays the single source of truth: a fact is marked re-verified by updating its
``verified_on`` (and sources) in ``facts/catalogue/<id>.yml``, never from the console."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, render_template

import settings
from conversations import feedback
from training.facts import default_catalogue

blueprint = Blueprint("facts_review", __name__)


@blueprint.get("/faits-a-revoir")
def facts_to_review():
    ratings = feedback.satisfaction(current_app.config["REPOSITORY"].engine)
    max_age = settings.fact_review_age_days()
    items = feedback.facts_to_review(default_catalogue(), ratings, max_age, dt.date.today())
    return render_template("console/facts_review.html", items=items, max_age=max_age)
