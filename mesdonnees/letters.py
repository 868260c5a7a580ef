"""The ready-to-send letter for a stored request (text; the web app prints it)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import List

from mesdonnees.requests_repository import StoredRequest

SCOPE_PHRASES = {
    "hdh_project": "dans le cadre de projets menés sur la Plateforme des données de santé (Health Data Hub)",
    "health_insurance": "par l'Assurance maladie, notamment dans le Système national des données de santé (SNDS)",
}


@dataclass(frozen=True)
class Letter:
    sender_lines: List[str]
    recipient: str
    subject: str
    paragraphs: List[str]
    signature: str

    def as_text(self) -> str:
        parts = ["\n".join(self.sender_lines), f"À l'attention du {self.recipient}", f"Objet : {self.subject}"]
        parts += self.paragraphs + [self.signature]
        return "\n\n".join(parts) + "\n"


def _request_paragraph(request: StoredRequest) -> str:
    scope = SCOPE_PHRASES.get(request.data_scope, "")
    if request.kind == "erasure":
        return (
            "En application de l'article 17 du règlement général sur la protection des données (RGPD), je vous "
            f"demande d'effacer les données personnelles me concernant traitées {scope}. Si vous estimez qu'une "
            "exception de l'article 17.3 s'applique, je vous remercie de m'indiquer laquelle et pourquoi."
        )
    if request.kind == "rectification":
        return (
            "En application de l'article 16 du RGPD, je vous demande de rectifier les données inexactes me "
            f"concernant traitées {scope}. Information inexacte : « {request.wrong_data} ». "
            f"Information correcte : « {request.correct_data} »."
        )
    if request.kind == "access":
        return (
            "En application de l'article 15 du RGPD, je vous demande de me confirmer si des données personnelles "
            f"me concernant sont traitées {scope} et, le cas échéant, de m'en communiquer une copie ainsi que les "
            "informations prévues par cet article (finalités, destinataires, durée de conservation, source des données)."
        )
    return (
        "En application de l'article 21 du RGPD et de l'article 74 de la loi Informatique et Libertés, je m'oppose "
        f"au traitement des données personnelles me concernant {scope}, pour les raisons suivantes, tenant à ma "
        f"situation particulière : « {request.objection_reason} »."
    )


def compose_letter(request: StoredRequest, today: dt.date | None = None) -> Letter:
    today = today or dt.date.today()
    info = request.kind_info
    name = f"{request.first_name} {request.last_name}"
    return Letter(
        sender_lines=[name, f"Adresse e-mail pour la réponse : {request.email}"],
        recipient=request.controller[0].lower() + request.controller[1:],
        subject=f"{info.label[0].upper() + info.label[1:]} ({info.article}) — référence {request.reference}",
        paragraphs=[
            "Madame, Monsieur,",
            _request_paragraph(request),
            "Conformément à l'article 12.3 du RGPD, vous disposez d'un délai d'un mois à compter de la réception "
            "de cette demande pour y répondre. Ce délai peut être prolongé de deux mois, compte tenu de la "
            "complexité et du nombre de demandes, à condition de m'en informer, avec les motifs, dans le premier mois.",
            "À défaut de réponse dans ce délai, ou en cas de réponse insatisfaisante, je pourrai introduire une "
            "réclamation auprès de la Commission nationale de l'informatique et des libertés (CNIL, www.cnil.fr).",
            "Je vous prie d'agréer, Madame, Monsieur, l'expression de mes salutations distinguées.",
        ],
        signature=f"{name}\nLe {today.strftime('%d/%m/%Y')}",
    )
