"""Operators' reviews (tags, notes, corrected labels) and the NLU export built from them.

Review data lives in the application database, never in Rasa's tables.
"""

from __future__ import annotations

import datetime as dt
from typing import Dict, List, Optional

import sqlalchemy as sa
import yaml

from gdpr.kinds import KINDS
from gdpr.requests import RequestRepository
from storage.schema import reviews
from training.facts import default_catalogue

TAGS = ("à revoir", "bien répondu", "mal compris")
OTHER_INTENTS = (
    "out_of_scope",
    "greet",
    "goodbye",
    "thank",
    "bot_challenge",
    "capabilities",
    "human_handoff",
    *(kind.intent for kind in KINDS.values()),
    "request_status",
)


def labels() -> List[str]:
    """What a misunderstood message can be corrected to: a fact, or another intent."""
    return [f"faq/{f.id}" for f in default_catalogue()] + list(OTHER_INTENTS)


class ReviewError(ValueError):
    pass


def add_review(
    repo: RequestRepository,
    sender_id: str,
    operator: str,
    tag: Optional[str],
    note: Optional[str],
    correct_label: Optional[str],
    event_id: Optional[int] = None,
    message_text: Optional[str] = None,
) -> None:
    tag = tag or None
    note = (note or "").strip()[:2000] or None
    correct_label = correct_label or None
    if tag is not None and tag not in TAGS:
        raise ReviewError("Étiquette inconnue.")
    if correct_label is not None and correct_label not in labels():
        raise ReviewError("Intention ou fait inconnu.")
    if not (tag or note or correct_label):
        raise ReviewError("Rien à enregistrer : choisissez une étiquette, une correction ou écrivez une note.")
    with repo.engine.begin() as connection:
        connection.execute(
            reviews.insert().values(
                sender_id=sender_id[:255],
                event_id=event_id,
                message_text=message_text,
                tag=tag,
                note=note,
                correct_label=correct_label,
                operator=operator,
                created_at=dt.datetime.now(dt.timezone.utc),
            )
        )


def reviews_of(repo: RequestRepository, sender_id: str) -> List[dict]:
    with repo.engine.connect() as connection:
        return [
            dict(r)
            for r in connection.execute(
                sa.select(reviews).where(reviews.c.sender_id == sender_id).order_by(reviews.c.id)
            ).mappings()
        ]


def corrections_as_nlu_yaml(repo: RequestRepository) -> str:
    """Every corrected message, as Rasa NLU training data ready to add to data/nlu/."""
    with repo.engine.connect() as connection:
        rows = connection.execute(
            sa.select(reviews.c.message_text, reviews.c.correct_label)
            .where(reviews.c.correct_label.isnot(None), reviews.c.message_text.isnot(None))
            .order_by(reviews.c.id)
        ).all()
    by_label: Dict[str, List[str]] = {}
    for text, label in rows:
        clean = " ".join(str(text).replace("[", "(").replace("]", ")").split())
        if clean and clean not in by_label.setdefault(label, []):
            by_label[label].append(clean)
    document = {
        "version": "3.1",
        "nlu": [
            {"intent": label, "examples": "".join(f"- {t}\n" for t in texts)}
            for label, texts in sorted(by_label.items())
        ],
    }
    header = (
        "# Messages corrigés dans la console (textes masqués tels que stockés). À relire avant l'entraînement.\n"
        "# Pour un fait (faq/<id>), ajoutez la question aux exemples de facts/catalogue/<id>.yml ;\n"
        "# pour une autre intention, au fichier de data/nlu/ qui la contient.\n"
    )
    return header + yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
