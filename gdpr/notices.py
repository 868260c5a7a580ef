"""The e-mails sent to the citizen about a request: acknowledgement, transmission to the
controller, status changes and extension of the deadline (SPEC §3.3; GDPR art. 12).

Each says exactly what happened, who did it, what remains to be done and the deadline in
force, in plain French. They carry no personal data beyond what the recipient gave and
needs (name, reference): never the NIR, never what the citizen described (wrong_data,
correct_data, objection_reason), which may be health details.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional

import settings
from gdpr.deadlines import deadline_start, french_date, legal_deadline, paris_date, today
from gdpr.kinds import CONTROLLERS, SCOPE_LABELS
from mail.compose import html_page

if TYPE_CHECKING:  # gdpr.requests imports this module lazily
    from gdpr.requests import StoredRequest

CNIL_COMPLAINTS_URL = "https://www.cnil.fr/fr/plaintes"
TEAM = "l'équipe de protection des données"
SIGNATURE = "L'équipe de protection des données — service « Mes données de santé »"

# The controllers as they are named in a sentence (« transmettre votre demande à la … »).
_CONTROLLERS_IN_A_SENTENCE = {
    "hdh_project": "la Plateforme des données de santé (Health Data Hub), à l'attention de son délégué à la "
    "protection des données",
    "health_insurance": "la caisse d'Assurance maladie dont vous dépendez, à l'attention de son délégué à la "
    "protection des données",
}


@dataclass(frozen=True)
class Notice:
    subject: str
    text: str
    html: str


def notice(subject: str, paragraphs: List[str]) -> Notice:
    """A notice from its subject and paragraphs (plain text and HTML)."""
    return Notice(subject=subject, text="\n\n".join(paragraphs) + "\n", html=html_page(subject, paragraphs))


def _hello(request: StoredRequest) -> str:
    return f"Bonjour {request.first_name} {request.last_name},"


def controller_phrase(request: StoredRequest) -> str:
    """« la Plateforme des données de santé … », or the organisation as recorded, after « à »."""
    if request.controller == CONTROLLERS.get(request.data_scope):
        return _CONTROLLERS_IN_A_SENTENCE[request.data_scope]
    return f"l'organisme suivant : {request.controller}"


def _what(request: StoredRequest) -> str:
    """« votre demande d'effacement (article 17 du RGPD), référence HDH-2026-000123 »."""
    kind = request.kind_info
    return f"votre {kind.label} ({kind.article}), référence {request.reference}"


def letter_url(request: StoredRequest) -> str:
    return f"{settings.public_web_url()}/lettre/{request.reference}?cle={request.letter_key}"


def _how_to_follow(request: StoredRequest) -> str:
    return (
        "Pour savoir où en est votre demande, posez la question à l'assistant « Mes données de santé », dans "
        f"la conversation, en donnant sa référence ({request.reference}), puis l'adresse e-mail à laquelle vous "
        "recevez ce message."
    )


def _complaint(closing: bool = False) -> str:
    if closing:
        return (
            "Si la réponse ne vous satisfait pas, vous pouvez adresser une plainte à la CNIL (Commission nationale "
            f"de l'informatique et des libertés) : {CNIL_COMPLAINTS_URL}"
        )
    return (
        "Si vous n'obtenez pas de réponse dans le délai, ou si la réponse ne vous satisfait pas, vous pouvez "
        f"adresser une plainte à la CNIL (Commission nationale de l'informatique et des libertés) : {CNIL_COMPLAINTS_URL}"
    )


def _extension_possible() -> str:
    return (
        "Ce délai peut être prolongé de deux mois au plus, si la demande est complexe ou si les demandes sont "
        "nombreuses : nous vous en informerions alors par écrit, avec les raisons de cette prolongation, avant la "
        "fin du premier mois (article 12.3 du RGPD)."
    )


def _replies() -> str:
    return (
        "Ce message est envoyé automatiquement. Si vous y répondez, votre réponse parvient à l'équipe de protection "
        "des données."
    )


def _deadline_in_force(request: StoredRequest) -> str:
    """The deadline in force, or why there is none yet."""
    if request.deadline is None:
        return (
            "Le délai légal d'un mois n'a pas encore commencé : il courra à partir de la réception de votre demande "
            "par le responsable du traitement, et nous vous écrirons à ce moment-là."
        )
    if request.extended_at is not None:
        return f"Le délai de réponse, prolongé, court jusqu'au {french_date(request.deadline)} inclus."
    start = deadline_start(request)
    since = f" à partir du {french_date(start)}" if start else ""
    return (
        f"Le délai légal d'un mois court{since} : la réponse est due au plus tard le {french_date(request.deadline)}."
    )


# --- Acknowledgement (sent when the request is recorded) ---------------------------------
def acknowledgement_key(request: StoredRequest) -> str:
    return f"ack:{request.reference}"


def acknowledgement(request: StoredRequest) -> Notice:
    received = paris_date(request.received_at)
    scope = SCOPE_LABELS.get(request.data_scope, request.data_scope)
    paragraphs = [
        _hello(request),
        f"Nous avons bien enregistré {_what(request)}, le {french_date(received)}. Gardez cette référence : "
        "elle vous permet de suivre votre demande.",
        f"Données concernées : {scope}.",
    ]
    if settings.deadline_starts_on() == "transmission":
        paragraphs.append(
            f"Et maintenant ? {TEAM.capitalize()} de ce service va transmettre votre demande à "
            f"{controller_phrase(request)}, le responsable du traitement qui doit vous répondre. Le délai légal d'un "
            "mois court à partir de la réception de votre demande par ce responsable : nous vous écrirons à ce "
            "moment-là, avec la date limite de réponse."
        )
    else:
        deadline = request.deadline or legal_deadline(received)
        paragraphs.append(
            f"Et maintenant ? {TEAM.capitalize()} de ce service traite votre demande pour le compte de "
            f"{controller_phrase(request)}, le responsable du traitement. Le délai légal d'un mois court à partir "
            f"d'aujourd'hui, jour de l'enregistrement de votre demande : la réponse est due au plus tard le "
            f"{french_date(deadline)}."
        )
    paragraphs += [
        _extension_possible(),
        f"La lettre de votre demande, à consulter ou à imprimer : {letter_url(request)}",
        _how_to_follow(request),
        _complaint(),
        _replies(),
        SIGNATURE,
    ]
    return notice(f"Accusé de réception : votre demande {request.reference} est enregistrée", paragraphs)


# --- Transmission to the controller (console « Transmise au responsable ») ---------------
def transmission_notice(request: StoredRequest) -> Notice:
    on = french_date(request.transmitted_on) if request.transmitted_on else "ce jour"
    channel = f", par {request.transmission_channel}" if request.transmission_channel else ""
    paragraphs = [
        _hello(request),
        f"Le {on}, {TEAM} a transmis {_what(request)}, au responsable du traitement qui doit vous répondre : "
        f"{request.transmitted_to or request.controller}{channel}.",
        "Il revient maintenant à ce responsable d'examiner votre demande et de vous répondre. Vous n'avez rien à "
        "faire de plus ; nous vous écrirons à chaque nouvelle étape.",
        _deadline_in_force(request),
    ]
    if request.extended_at is None:
        paragraphs.append(_extension_possible())
    paragraphs += [_how_to_follow(request), _complaint(), _replies(), SIGNATURE]
    return notice(f"Votre demande {request.reference} a été transmise au responsable", paragraphs)


# --- Status changes ----------------------------------------------------------------------
def status_notice(request: StoredRequest, new_status: str, reason: Optional[str]) -> Notice:
    reason = (reason or "").strip() or None
    paragraphs = [_hello(request)]
    if new_status == "en cours":
        subject = f"Votre demande {request.reference} est en cours de traitement"
        paragraphs.append(f"{TEAM.capitalize()} a passé {_what(request)}, au statut « en cours » : elle est examinée.")
    elif new_status == "traitée":
        subject = f"Votre demande {request.reference} a été traitée"
        paragraphs.append(f"{TEAM.capitalize()} a enregistré que {_what(request)}, a été traitée (statut « traitée »).")
    elif new_status == "refusée":
        subject = f"Votre demande {request.reference} a été refusée"
        paragraphs.append(f"{TEAM.capitalize()} a enregistré le refus de {_what(request)} (statut « refusée »).")
    else:  # « reçue »: back to the start of the processing
        subject = f"Votre demande {request.reference} est de nouveau au statut « reçue »"
        paragraphs.append(
            f"{TEAM.capitalize()} a remis {_what(request)}, au statut « reçue » : elle va être examinée de nouveau."
        )
    if reason:
        label = "Motif du refus" if new_status == "refusée" else "Précision de l'équipe"
        paragraphs.append(f"{label} : « {reason} »")
    if new_status == "refusée":
        paragraphs.append(
            "Vous pouvez contester ce refus en adressant une plainte à la CNIL (Commission nationale de l'informatique "
            f"et des libertés) : {CNIL_COMPLAINTS_URL}, ou en saisissant la justice (article 12.4 du RGPD)."
        )
        paragraphs.append("Votre demande est close : aucun délai ne court plus.")
    elif new_status == "traitée":
        paragraphs.append("Vous n'avez plus rien à faire : votre demande est close, aucun délai ne court plus.")
        paragraphs.append(_complaint(closing=True))
    else:
        paragraphs.append(
            "Il reste au responsable du traitement à vous répondre ; vous n'avez rien à faire de plus. "
            "Nous vous écrirons à chaque nouvelle étape."
        )
        paragraphs.append(_deadline_in_force(request))
        paragraphs.append(_how_to_follow(request))
        paragraphs.append(_complaint())
    paragraphs += [_replies(), SIGNATURE]
    return notice(subject, paragraphs)


# --- Extension of the deadline (art. 12.3) -----------------------------------------------
def extension_notice(request: StoredRequest) -> Notice:
    extended_on = paris_date(request.extended_at) if request.extended_at else today()
    initial = (
        f", au lieu du {french_date(request.initial_deadline)}"
        if request.initial_deadline and request.initial_deadline != request.deadline
        else ""
    )
    deadline = french_date(request.deadline) if request.deadline else "(non déterminée)"
    paragraphs = [
        _hello(request),
        f"Le {french_date(extended_on)}, {TEAM} a prolongé le délai de réponse à {_what(request)}. La nouvelle "
        f"date limite de réponse est le {deadline}{initial}.",
        f"Raison de cette prolongation : « {request.extension_reason or ''} »",
        "Le RGPD (article 12.3) ne permet de prolonger ce délai que de deux mois au plus, et seulement si la "
        "complexité ou le nombre des demandes le justifie, à condition de vous en informer, avec ses raisons, dans "
        "le mois qui suit la réception de votre demande : c'est l'objet de ce message. Le délai ne sera pas "
        "prolongé une nouvelle fois.",
        f"Il reste au responsable du traitement à vous répondre, au plus tard le {deadline} ; vous n'avez rien à "
        "faire de plus.",
        _how_to_follow(request),
        _complaint(),
        _replies(),
        SIGNATURE,
    ]
    return notice(f"Votre demande {request.reference} : délai de réponse prolongé", paragraphs)
