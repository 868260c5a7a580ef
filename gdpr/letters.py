"""The ready-to-send letter for a stored request (text; the web app prints it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import List

from gdpr.kinds import CONTROLLER_CONTACTS, SCOPE_LETTER_PHRASES
from gdpr.requests import StoredRequest


@dataclass(frozen=True)
class Letter:
    sender_lines: List[str]
    recipient: str
    subject: str
    paragraphs: List[str]
    signature: str
    how_to_send: str = ""  # where the citizen sends it, as far as the sources say (not part of the letter)

    def as_text(self) -> str:
        parts = ["\n".join(self.sender_lines), f"Destinataire : {self.recipient}", f"Objet : {self.subject}"]
        parts += self.paragraphs + [self.signature]
        return "\n\n".join(parts) + "\n"


# Filled in by hand on the printed letter: the chat never asks for it (SPEC §4).
IDENTIFICATION_LINE = (
    "Pour m'identifier (à compléter à la main) : adresse postale, et pour l'Assurance maladie numéro de sécurité "
    "sociale : ____________________________________________"
)


def _request_paragraph(request: StoredRequest) -> str:
    """The paragraph that states the right exercised, from the kind's registry entry."""
    return request.kind_info.letter_text(SCOPE_LETTER_PHRASES.get(request.data_scope, ""), request.answers)


def compose_letter(request: StoredRequest, today: dt.date | None = None) -> Letter:
    today = today or dt.date.today()
    info = request.kind_info
    name = f"{request.first_name} {request.last_name}"
    return Letter(
        sender_lines=[name, f"Adresse e-mail pour la réponse : {request.email}"],
        recipient=request.controller,
        # The reference is this service's, not a file number of the controller.
        subject=f"{info.label[0].upper() + info.label[1:]} ({info.article}), préparée avec le service "
        f"« Mes données de santé » (référence {request.reference})",
        paragraphs=[
            "Madame, Monsieur,",
            _request_paragraph(request),
            IDENTIFICATION_LINE,
            "Exercer ces droits est gratuit (article 12.5 du RGPD). Vous ne pouvez me demander un justificatif "
            "d'identité qu'en cas de doute raisonnable sur mon identité (article 12.6).",
            "Conformément à l'article 12.3 du RGPD, vous disposez d'un délai d'un mois à compter de la réception "
            "de cette demande pour y répondre. Ce délai peut être prolongé de deux mois, compte tenu de la "
            "complexité et du nombre de demandes, à condition de m'en informer, avec les motifs, dans le premier mois.",
            "À défaut de réponse dans ce délai, ou en cas de réponse insatisfaisante, je pourrai introduire une "
            "réclamation auprès de la Commission nationale de l'informatique et des libertés (CNIL, www.cnil.fr).",
            "Je vous prie d'agréer, Madame, Monsieur, l'expression de mes salutations distinguées.",
        ],
        signature=f"{name}\nLe {today.strftime('%d/%m/%Y')}",
        how_to_send=CONTROLLER_CONTACTS.get(request.data_scope, ""),
    )
