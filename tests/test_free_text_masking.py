"""Names, postal addresses and health conditions typed anywhere are masked (issue #19)."""

from __future__ import annotations

import pytest

from privacy.evaluation import load_set, score
from privacy.free_text import ADDRESS_MASK, HEALTH_MASK, NAME_MASK, find_personal_data, mask_personal_data
from privacy.masking import EMAIL_MASK, mask_text

ISSUE_MESSAGE = (
    "Bonjour, je m'appelle Marie Dubreuil, j'habite 12 rue des Lilas à Nantes, 06 12 34 56 78. "
    "J'ai un cancer du sein et je veux savoir qui voit mes données"
)


def test_the_issue_message_keeps_only_what_is_not_personal():
    masked = mask_text(ISSUE_MESSAGE, free_text=True)
    assert masked == (
        f"Bonjour, je m'appelle {NAME_MASK}, j'habite {ADDRESS_MASK} à Nantes, [téléphone masqué]. "
        f"J'ai un {HEALTH_MASK} et je veux savoir qui voit mes données"
    )


@pytest.mark.parametrize(
    "text, hidden",
    [
        ("je m'appelle kevin martin et je voudrais mes données", "kevin martin"),
        ("Mon nom est N'Diaye, prénom Awa", "N'Diaye"),
        ("nom : Le Goff", "Le Goff"),
        ("Je suis Mme Oliveira-Santos et je veux effacer mes données", "Oliveira-Santos"),
        ("je suis madame lefort", "lefort"),
        ("c'est pour ma mère, Fatou Diop, qui est décédée", "Fatou Diop"),
        ("mes enfants Lucas et Maëlle sont-ils dans le SNDS ?", "Maëlle"),
        ("Merci d'avance.\nCordialement,\nJean-Baptiste de La Salle", "Jean-Baptiste de La Salle"),
        ("Dubreuil", "Dubreuil"),
    ],
)
def test_names_are_found_by_their_cues(text, hidden):
    masked = mask_personal_data(text)
    assert hidden not in masked and NAME_MASK in masked, masked


@pytest.mark.parametrize(
    "text, hidden",
    [
        ("j'habite au 3 bis avenue Jean-Jaurès depuis 2010", "Jean-Jaurès"),
        ("45, boulevard de la République 13001 Marseille", "13001 Marseille"),
        ("écrivez-moi 7 impasse des Ormes, 29200 Brest", "Ormes"),
        ("envoyez au 2 rte de Vannes 56000 vannes cedex", "Vannes"),
    ],
)
def test_addresses_are_found_in_their_usual_shapes(text, hidden):
    masked = mask_personal_data(text)
    assert hidden not in masked and ADDRESS_MASK in masked, masked


@pytest.mark.parametrize(
    "text, hidden",
    [
        ("je suis séropositive depuis 2012", "séropositive"),
        ("Mon fils est autiste", "autiste"),
        ("jai fait une IVG l'an dernier", "IVG"),
        ("je suis diabetique de type 2", "diabetique de type 2"),
        ("ma femme souffre d'une dépression sévère", "dépression sévère"),
    ],
)
def test_health_conditions_are_found_with_their_inflections(text, hidden):
    masked = mask_personal_data(text)
    assert hidden not in masked and HEALTH_MASK in masked, masked


@pytest.mark.parametrize(
    "text",
    [
        "Est-ce que le Health Data Hub partage mes données avec Microsoft ?",
        "Qui a accès aux données du SNDS ? La CNIL contrôle-t-elle ?",
        "Mon espace santé et Doctolib, c'est pareil ?",
        "L'Assurance maladie rembourse mes soins à l'hôpital, mon médecin le sait-il ?",
        "la recherche sur le cancer utilise-t-elle le SNDS ?",
        "Les personnes atteintes de diabète sont-elles dans la base ?",
        "J'habite à Lyon, est-ce pareil pour moi ?",
        "plus de 10000 projets et 75000 personnes ?",
        "La loi du 24 juillet 2019 a créé la Plateforme des données de santé.",
        "Effacement",
        "Oui",
        "ma demande HDH-2026-000123",
    ],
)
def test_institutions_generic_words_and_topics_stay(text):
    assert find_personal_data(text) == []
    assert mask_personal_data(text) == text


def test_masking_is_idempotent_and_keeps_other_masks():
    once = mask_text(ISSUE_MESSAGE + " mail marie.d@example.fr", free_text=True)
    assert EMAIL_MASK in once
    assert mask_text(once, free_text=True) == once


def test_without_free_text_only_patterns_and_known_values_are_masked():
    """Bot texts and identifiers keep the cheaper masking: no NER, no lexicon."""
    assert mask_text("J'ai un cancer, je m'appelle Marie Dubreuil") == "J'ai un cancer, je m'appelle Marie Dubreuil"


def test_the_pii_set_is_large_and_varied_enough():
    sentences = load_set()
    assert len(sentences) >= 200
    assert sum(1 for s in sentences if not s.expected) >= 90
    kinds = {span.kind for s in sentences for span in s.expected}
    assert kinds == {"name", "address", "health"}


def test_recall_and_precision_floors_on_the_pii_set():
    """Issue #19 floors: names and addresses recall ≥ 95 %, health ≥ 90 %, precision ≥ 95 %."""
    result = score(load_set())
    by_kind = result.by_kind
    report = {k: (round(v.recall, 3), round(v.precision, 3)) for k, v in by_kind.items()}
    assert by_kind["name"].recall >= 0.95, (report, result.missed)
    assert by_kind["address"].recall >= 0.95, (report, result.missed)
    assert by_kind["health"].recall >= 0.90, (report, result.missed)
    for kind in ("name", "address", "health"):
        assert by_kind[kind].precision >= 0.95, (report, result.over_masked)
