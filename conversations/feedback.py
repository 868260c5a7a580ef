"""Citizens' feedback on fact answers: « Cette réponse vous a-t-elle aidé ? » (issue #18).

Every fact answer carries an ``answer_id`` and two buttons (Oui / Non); « Non » asks why, with
the reasons below as buttons. A rating lives in the application database table
``answer_feedback`` rather than as a Rasa event: the console aggregates it per fact across all
conversations (a query on one small table, not a scan of the JSON of every event), and a
citizen's change of mind replaces the earlier choice (one row per answer, keyed by conversation
and answer). The row holds no text typed by the citizen: ids, a yes/no and a reason code.

The console shows per-fact satisfaction and « Faits à revoir »: facts with bad ratings, facts
reported as wrong or out of date, and facts whose ``verified_on`` is older than
FACT_REVIEW_AGE_DAYS. Marking a fact as re-verified is done in its catalogue file.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from storage.schema import answer_feedback
from training.facts import default_catalogue

QUESTION = "Cette réponse vous a-t-elle aidé ?"
REASONS = {
    "not_my_question": "Pas la réponse à ma question",
    "unclear": "Pas clair",
    "wrong_or_outdated": "Semble faux ou dépassé",
    "other": "Autre",
}
INTENT = "give_feedback"
COMMENT_INTENT = "add_feedback_comment"
CANCEL_WORDS = {"annuler", "non", "rien", "stop", "non merci", "pas de commentaire"}
# A fact with at least this many « Non » and no more « Oui » than « Non » is to be reviewed.
MIN_BAD_RATINGS = 2


ANSWER_ID = re.compile(r"^[0-9a-f]{6,32}$")
# The entities each payload carries: required, then optional (checked by the message guard and
# again by the actions, which also receive entities forged past the REST channel's guard).
PAYLOAD_ENTITIES = {
    INTENT: ({"answer_id", "fact_id", "helpful"}, {"reason"}),
    COMMENT_INTENT: ({"answer_id", "fact_id"}, set()),
}


def valid_entities(intent: str, values: Mapping[str, Any]) -> bool:
    """A rating or a comment request as the buttons under a fact answer send it: the right
    entities, all strings, an answer id as issued, a catalogue fact, a known choice and reason."""
    if intent not in PAYLOAD_ENTITIES:
        return False
    required, optional = PAYLOAD_ENTITIES[intent]
    if not required <= set(values) <= required | optional or not all(isinstance(v, str) for v in values.values()):
        return False
    return (
        bool(ANSWER_ID.match(values["answer_id"]))
        and default_catalogue().get(values["fact_id"]) is not None
        and values.get("helpful", "yes") in ("yes", "no")
        and values.get("reason", "other") in REASONS
    )


def new_answer_id() -> str:
    return secrets.token_hex(6)


def _payload(**entities: str) -> str:
    return f"/{INTENT}{json.dumps(entities, separators=(',', ':'))}"


def feedback_offer(fact_id: str, answer_id: str) -> Dict:
    """What a fact reply carries under ``custom.feedback`` (rendered under the answer)."""
    return {
        "answer_id": answer_id,
        "question": QUESTION,
        "buttons": [
            {"title": "Oui", "payload": _payload(answer_id=answer_id, fact_id=fact_id, helpful="yes")},
            {"title": "Non", "payload": _payload(answer_id=answer_id, fact_id=fact_id, helpful="no")},
        ],
    }


def reason_buttons(fact_id: str, answer_id: str) -> List[Dict]:
    return [
        {"title": title, "payload": _payload(answer_id=answer_id, fact_id=fact_id, helpful="no", reason=code)}
        for code, title in REASONS.items()
    ]


def comment_button(fact_id: str, answer_id: str) -> Dict:
    entities = {"answer_id": answer_id, "fact_id": fact_id}
    return {
        "title": "Ajouter un commentaire",
        "payload": f"/{COMMENT_INTENT}{json.dumps(entities, separators=(',', ':'))}",
    }


def mark_commented(engine: sa.engine.Engine, sender_id: str, answer_id: str) -> bool:
    """Note that the rated answer got a comment; False when that answer was never rated."""
    key = sa.and_(answer_feedback.c.sender_id == sender_id[:255], answer_feedback.c.answer_id == answer_id[:32])
    with engine.begin() as connection:
        return bool(
            connection.execute(
                answer_feedback.update().where(key).values(commented=True, updated_at=dt.datetime.now(dt.timezone.utc))
            ).rowcount
        )


def record(
    engine: sa.engine.Engine,
    sender_id: str,
    answer_id: str,
    fact_id: str,
    helpful: bool,
    reason: Optional[str] = None,
    now: Optional[dt.datetime] = None,
) -> None:
    """Store a rating; a second rating of the same answer replaces the first."""
    if reason is not None and reason not in REASONS:
        raise ValueError("unknown reason")
    if helpful:
        reason = None
    now = now or dt.datetime.now(dt.timezone.utc)
    key = sa.and_(answer_feedback.c.sender_id == sender_id[:255], answer_feedback.c.answer_id == answer_id[:32])
    values = {"fact_id": fact_id[:100], "helpful": helpful, "reason": reason, "updated_at": now}
    for _attempt in range(2):
        try:
            with engine.begin() as connection:
                if connection.execute(answer_feedback.update().where(key).values(**values)).rowcount:
                    return
                connection.execute(
                    answer_feedback.insert().values(
                        sender_id=sender_id[:255], answer_id=answer_id[:32], created_at=now, **values
                    )
                )
                return
        except IntegrityError:  # the same answer rated twice at once: the update wins next time
            continue


@dataclass
class FactSatisfaction:
    fact_id: str
    helpful: int = 0
    not_helpful: int = 0
    reasons: Counter = field(default_factory=Counter)
    comments: int = 0
    senders: List[str] = field(default_factory=list)  # conversations with a « Non »

    @property
    def ratings(self) -> int:
        return self.helpful + self.not_helpful


def satisfaction(engine: sa.engine.Engine, since: Optional[dt.datetime] = None) -> Dict[str, FactSatisfaction]:
    query = sa.select(
        answer_feedback.c.fact_id,
        answer_feedback.c.helpful,
        answer_feedback.c.reason,
        answer_feedback.c.sender_id,
        answer_feedback.c.commented,
    ).order_by(answer_feedback.c.updated_at.desc())
    if since is not None:
        query = query.where(answer_feedback.c.updated_at >= since)
    result: Dict[str, FactSatisfaction] = {}
    with engine.connect() as connection:
        for fact_id, helpful, reason, sender_id, commented in connection.execute(query):
            item = result.setdefault(fact_id, FactSatisfaction(fact_id))
            item.comments += int(bool(commented))
            if helpful:
                item.helpful += 1
            else:
                item.not_helpful += 1
                item.reasons[reason or "none"] += 1
                if sender_id not in item.senders:
                    item.senders.append(sender_id)
    return result


@dataclass
class FactToReview:
    fact_id: str
    title: str
    verified_on: dt.date
    why: List[str]
    senders: List[str]


def facts_to_review(
    catalogue: Iterable, ratings: Dict[str, FactSatisfaction], max_age_days: int, today: Optional[dt.date] = None
) -> List[FactToReview]:
    """Facts with bad ratings, reported as wrong or out of date, or verified too long ago."""
    today = today or dt.date.today()
    items = []
    for fact in catalogue:
        rated = ratings.get(fact.id)
        why = []
        if rated and rated.reasons.get("wrong_or_outdated"):
            why.append(f"signalé « semble faux ou dépassé » ({rated.reasons['wrong_or_outdated']})")
        if rated and rated.not_helpful >= MIN_BAD_RATINGS and rated.not_helpful >= rated.helpful:
            why.append(f"mal noté ({rated.not_helpful} non, {rated.helpful} oui)")
        age = (today - fact.verified_on).days
        if age > max_age_days:
            why.append(f"vérifié il y a {age} jours (le {fact.verified_on.strftime('%d/%m/%Y')})")
        if why:
            items.append(FactToReview(fact.id, fact.title, fact.verified_on, why, rated.senders[:10] if rated else []))
    return sorted(items, key=lambda i: (-len(i.why), i.fact_id))


def per_fact_rows(ratings: Dict[str, FactSatisfaction], titles: Dict[str, str]) -> List[Dict]:
    rows = []
    for fact_id, item in sorted(ratings.items(), key=lambda kv: (-kv[1].not_helpful, -kv[1].ratings, kv[0])):
        rows.append(
            {
                "fact_id": fact_id,
                "title": titles.get(fact_id, fact_id),
                "helpful": item.helpful,
                "not_helpful": item.not_helpful,
                "reasons": ", ".join(f"{REASONS.get(code, 'sans raison')} : {n}" for code, n in item.reasons.items()),
                "comments": item.comments,
            }
        )
    return rows
