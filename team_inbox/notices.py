"""The e-mails about a message to the team: its acknowledgement (and, in team_inbox.processing,
the team's answer)."""

from __future__ import annotations

import settings
from gdpr.deadlines import french_date, paris_date
from gdpr.notices import Notice, notice

SIGNATURE = "L'équipe de protection des données — assistant « Mes données de santé »"


def answer_days() -> int:
    return settings.contact_answer_days()


def acknowledgement_key(message) -> str:
    return f"contact-ack:{message.reference}"


def acknowledgement(message) -> Notice:
    paragraphs = [
        "Bonjour,",
        f"Nous avons bien reçu votre message, le {french_date(paris_date(message.created_at))}, sous la "
        f"référence {message.reference}. Voici la question telle que l'équipe la lira (les données "
        f"personnelles éventuelles, comme un nom ou un détail de santé, sont masquées) : « {message.question} »",
        f"Une personne de l'équipe de protection des données vous répondra par e-mail à cette adresse, en "
        f"général sous {answer_days()} jours ouvrés. Vous n'avez rien d'autre à faire.",
        "Ce service ne remplace pas une demande d'exercice de vos droits : pour faire corriger, effacer ou "
        "obtenir vos données, ou vous opposer à leur utilisation, demandez-le à l'assistant, qui prépare la "
        "demande.",
        SIGNATURE,
    ]
    return notice(f"Votre message {message.reference} est bien reçu", paragraphs)


def answer_key(message, event_id: int) -> str:
    """One e-mail per answer recorded (a second answer is a second e-mail)."""
    return f"contact-answer:{message.reference}:{event_id}"


def answer_notice(message) -> Notice:
    """The team's answer (message.answer), with the question as stored (masked) as a reminder."""
    answer_paragraphs = [p.strip() for p in (message.answer or "").replace("\r\n", "\n").split("\n\n") if p.strip()]
    paragraphs = [
        "Bonjour,",
        f"Voici la réponse de l'équipe de protection des données à votre message {message.reference}, reçu le "
        f"{french_date(paris_date(message.created_at))}.",
        *answer_paragraphs,
        "Pour rappel, votre question telle que l'équipe l'a lue (les données personnelles éventuelles sont "
        f"masquées) : « {message.question} »",
        "Pour une autre question, posez-la à l'assistant « Mes données de santé », dans la conversation : il vous "
        "répond tout de suite quand une réponse vérifiée existe, et peut sinon transmettre un nouveau message à "
        "l'équipe.",
        SIGNATURE,
    ]
    return notice(f"Réponse à votre message {message.reference}", paragraphs)
