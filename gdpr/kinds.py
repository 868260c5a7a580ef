"""The registry of GDPR request kinds and of the fields their forms collect.

Everything about a kind of request is derived from here: its form and intent names, its
label and article, the questions, validation, summary labels and masking of its fields, the
paragraph of its letter, the button that offers it after a fact, and the console's CSV
columns. Adding a right is one `RequestKind` entry (plus, if it needs one, a `Field`), its
Rasa data (form in domain.yml, intent examples, rule), its fact, a migration if it stores a
new column, and tests (tests/test_request_kinds.py walks every kind through all of this).

This module imports nothing heavy: the Rasa server's plugins, the action server, the web
app and the training tools all read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Tuple

# Validation rules a field can use (implemented in actions/request_form_validation.py).
SCOPE, NAME, EMAIL, DESCRIPTION = "scope", "name", "email", "description"


@dataclass(frozen=True)
class Field:
    name: str  # slot name, draft answer key and column of gdpr_requests
    question: str  # asked by action_ask_<name>
    label: str  # « Corriger le prénom », « … l'information inexacte »
    summary_label: str  # « • Prénom : … » in the summary
    validation: str  # one of SCOPE, NAME, EMAIL, DESCRIPTION
    personal: bool  # masked in the conversation log, kept in the application database only


FIELDS: Dict[str, Field] = {
    f.name: f
    for f in (
        Field(
            "data_scope",
            "Vos données concernées sont-elles utilisées dans un projet de recherche du Health Data Hub, ou "
            "s'agit-il de vos données de l'Assurance maladie (remboursements, SNDS) ? Cela décide à qui la "
            "demande est adressée.",
            "les données concernées",
            "Données concernées",
            SCOPE,
            personal=False,
        ),
        Field("first_name", "Quel est votre prénom ?", "le prénom", "Prénom", NAME, personal=True),
        Field("last_name", "Quel est votre nom de famille ?", "le nom", "Nom", NAME, personal=True),
        Field(
            "email",
            "À quelle adresse e-mail la réponse doit-elle vous être envoyée ?",
            "l'adresse e-mail",
            "E-mail pour la réponse",
            EMAIL,
            personal=True,
        ),
        Field(
            "wrong_data",
            "Quelle information est inexacte ? Décrivez-la brièvement, sans numéro de sécurité sociale et sans "
            "détail médical au-delà de ce que vous jugez nécessaire.",
            "l'information inexacte",
            "L'information inexacte",
            DESCRIPTION,
            personal=True,
        ),
        Field(
            "correct_data",
            "Quelle est l'information correcte ?",
            "l'information correcte",
            "L'information correcte",
            DESCRIPTION,
            personal=True,
        ),
        Field(
            "objection_reason",
            "Pour un projet de recherche, le droit d'opposition (article 21 du RGPD) s'exerce pour des raisons "
            "tenant à votre situation particulière. Expliquez-les brièvement, sans détail médical au-delà de ce "
            "que vous jugez nécessaire.",
            "les raisons de l'opposition",
            "Les raisons de l'opposition",
            DESCRIPTION,
            personal=True,
        ),
    )
}

COMMON_FIELDS: Tuple[str, ...] = ("data_scope", "first_name", "last_name", "email")


@dataclass(frozen=True)
class RequestKind:
    name: str  # "erasure": stored in gdpr_requests.kind, used in `/request_<name>` payloads
    label: str  # "demande d'effacement"
    article: str  # "article 17 du RGPD"
    offer_title: str  # button under a fact that offers this request
    letter_paragraph: str  # str.format() with {scope} and the kind's own fields
    own_fields: Tuple[str, ...] = ()  # fields only this kind asks, after the common ones
    # A different paragraph where the law differs by the data concerned: ((data_scope, template), …).
    letter_paragraph_by_scope: Tuple[Tuple[str, str], ...] = ()
    # Own fields the law does not require for some data: ((data_scope, (field, …)), …). They are
    # not asked, not shown in the summary and not stored for that scope.
    fields_not_asked_by_scope: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()

    @property
    def form(self) -> str:
        """Form name (SPEC §3.2 contract), e.g. erasure_request_form."""
        return f"{self.name}_request_form"

    @property
    def intent(self) -> str:
        return f"request_{self.name}"

    @property
    def fields(self) -> Tuple[str, ...]:
        return COMMON_FIELDS + self.own_fields

    def fields_not_asked(self, data_scope: Optional[str]) -> Tuple[str, ...]:
        return dict(self.fields_not_asked_by_scope).get(data_scope or "", ())

    def fields_for(self, data_scope: Optional[str]) -> Tuple[str, ...]:
        """The fields asked when the data concerned is `data_scope` (all of them while it is unknown)."""
        skipped = self.fields_not_asked(data_scope)
        return tuple(f for f in self.fields if f not in skipped)

    def letter_text(self, scope_phrase: str, answers: Mapping[str, str]) -> str:
        template = dict(self.letter_paragraph_by_scope).get(answers.get("data_scope") or "", self.letter_paragraph)
        return template.format(scope=scope_phrase, **{f: answers.get(f) or "" for f in self.own_fields})


KINDS: Dict[str, RequestKind] = {
    k.name: k
    for k in (
        RequestKind(
            "rectification",
            "demande de rectification",
            "article 16 du RGPD",
            "Faire une demande de rectification",
            "En application de l'article 16 du RGPD, je vous demande de rectifier les données inexactes me "
            "concernant traitées {scope}. Information inexacte : « {wrong_data} ». "
            "Information correcte : « {correct_data} ».",
            ("wrong_data", "correct_data"),
        ),
        RequestKind(
            "erasure",
            "demande d'effacement",
            "article 17 du RGPD",
            "Faire une demande d'effacement",
            "En application de l'article 17 du règlement général sur la protection des données (RGPD), je vous "
            "demande d'effacer les données personnelles me concernant traitées {scope}. Si vous estimez qu'une "
            "exception de l'article 17.3 s'applique, je vous remercie de m'indiquer laquelle et pourquoi.",
        ),
        RequestKind(
            "access",
            "demande d'accès",
            "article 15 du RGPD",
            "Faire une demande d'accès",
            "En application de l'article 15 du RGPD, je vous demande de me confirmer si des données personnelles "
            "me concernant sont traitées {scope} et, le cas échéant, de m'en communiquer une copie ainsi que les "
            "informations prévues par cet article (finalités, destinataires, durée de conservation, source des données).",
        ),
        RequestKind(
            "objection",
            "demande d'opposition",
            "article 21 du RGPD",
            "Faire une demande d'opposition",
            "En application de l'article 21 du RGPD et de l'article 74 de la loi Informatique et Libertés, je m'oppose "
            "au traitement des données personnelles me concernant {scope}, pour les raisons suivantes, tenant à ma "
            "situation particulière : « {objection_reason} ».",
            ("objection_reason",),
            # For the SNDS the law guarantees non-availability to anyone who asks (L.1461-7, 5° CSP;
            # art. 74 loi Informatique et Libertés): the letter asks exactly that, not an end to the
            # health insurance's own processing of reimbursements, which objection cannot reach, and
            # no reason is required, so none is asked (fact right_objection).
            (
                (
                    "health_insurance",
                    "En application de l'article L.1461-7 du code de la santé publique et de l'article 74 de la loi "
                    "Informatique et Libertés, je vous demande que les données de santé me concernant ne soient pas "
                    "mises à disposition, dans le cadre du Système national des données de santé (SNDS), pour des "
                    "projets de recherche, d'étude ou d'évaluation (article L.1461-3, I, 1° du même code).",
                ),
            ),
            (("health_insurance", ("objection_reason",)),),
        ),
    )
}

KIND_BY_FORM: Dict[str, RequestKind] = {k.form: k for k in KINDS.values()}
KIND_BY_INTENT: Dict[str, RequestKind] = {k.intent: k for k in KINDS.values()}


def is_wish(label: str) -> bool:
    """An NLU label that starts a request form (asking a request's status starts nothing)."""
    return label in KIND_BY_INTENT


REQUEST_FORMS: Tuple[str, ...] = tuple(KIND_BY_FORM)

# Every field any kind collects, in a stable order (common ones first).
ALL_FIELDS: Tuple[str, ...] = tuple(dict.fromkeys(f for k in KINDS.values() for f in k.fields))
PERSONAL_FIELDS: Tuple[str, ...] = tuple(f for f in ALL_FIELDS if FIELDS[f].personal)

# The request status form asks for the e-mail given with the request.
STATUS_EMAIL_SLOT = "status_email"
# Slots holding personal data: stored masked in the conversation log (SPEC §4).
PERSONAL_SLOTS = frozenset(PERSONAL_FIELDS) | {STATUS_EMAIL_SLOT}

# Where the data is, hence who must answer.
SCOPE_LABELS = {
    "hdh_project": "un projet de recherche sur la Plateforme du Health Data Hub",
    "health_insurance": "vos données de l'Assurance maladie (SNDS)",
}
SCOPE_LETTER_PHRASES = {
    "hdh_project": "dans le cadre de projets menés sur la Plateforme des données de santé (Health Data Hub)",
    "health_insurance": "par l'Assurance maladie, notamment dans le Système national des données de santé (SNDS)",
}
# The organisation that must answer, to the attention of its data-protection officer (fact rights_where).
CONTROLLERS = {
    "hdh_project": (
        "Plateforme des données de santé (Health Data Hub), à l'attention de son délégué à la protection des données"
    ),
    "health_insurance": (
        "Caisse d'Assurance maladie dont vous dépendez, à l'attention de son délégué à la protection des données"
    ),
}

# How to reach each controller, as far as the sources say (facts dpo_contact and rights_where);
# shown with the letter. No DPO address is given where no source confirms it.
CONTROLLER_CONTACTS = {
    "hdh_project": (
        "Le Health Data Hub publie sur son site (health-data-hub.fr) les coordonnées de son délégué à la "
        "protection des données ; son adresse de contact générale est contact@health-data-hub.fr. Vérifiez la "
        "page avant d'envoyer."
    ),
    "health_insurance": (
        "La page « Protection des données personnelles » de l'Assurance maladie (assurance-maladie.ameli.fr) "
        "indique comment joindre le délégué à la protection des données de votre caisse, votre « interlocuteur "
        "privilégié »."
    ),
}

# The console's CSV export: request metadata, its deadline and transmission, then every field.
# `deadline_start` (the day the month runs from, gdpr.deadlines) is computed; the others are columns.
CSV_COLUMNS: Tuple[str, ...] = (
    "reference",
    "kind",
    "status",
    "status_reason",
    "received_at",
    "deadline",
    "deadline_start",
    "initial_deadline",
    "extension_reason",
    "extended_at",
    "controller",
    "transmitted_on",
    "transmitted_to",
    "transmission_channel",
    "transmitted_by",
) + tuple(f for f in ALL_FIELDS if f != "data_scope")
