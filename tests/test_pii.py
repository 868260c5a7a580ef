"""Personal data is masked before it is stored."""

import pytest

from privacy.masking import EMAIL_MASK, NIR_MASK, PHONE_MASK, VALUE_MASK, contains_nir, mask_text, mask_value


@pytest.mark.parametrize(
    "text, mask",
    [
        ("écrivez-moi à jeanne.dupont+hdh@example.fr svp", EMAIL_MASK),
        ("mon numéro 06 12 34 56 78", PHONE_MASK),
        ("appelez le +33 6 12 34 56 78", PHONE_MASK),
        ("fixe : 01.23.45.67.89", PHONE_MASK),
        ("mon NIR est 1 85 05 78 006 084 36", NIR_MASK),
        ("285052A00608436", NIR_MASK),
        ("numéro 1850578006084", NIR_MASK),
    ],
)
def test_patterns_are_masked(text, mask):
    masked = mask_text(text)
    assert mask in masked
    assert not any(ch.isdigit() for ch in masked)


@pytest.mark.parametrize(
    "text",
    [
        "ma demande HDH-2026-000123",
        "la loi n° 2019-774 du 24 juillet 2019",
        "19 ans plus l'année en cours",
        "1,2 milliard",
    ],
)
def test_ordinary_numbers_are_kept(text):
    assert mask_text(text) == text


def test_known_values_are_masked_case_insensitively_as_whole_words():
    masked = mask_text("Je suis Jeanne DUPONT, pas Dupontel", ["Dupont", "Jeanne"])
    assert masked == f"Je suis {VALUE_MASK} {VALUE_MASK}, pas Dupontel"


def test_nested_values_are_masked():
    value = {"custom": {"note": "mail a@b.fr"}, "list": ["06 12 34 56 78", 3]}
    assert mask_value(value) == {"custom": {"note": f"mail {EMAIL_MASK}"}, "list": [PHONE_MASK, 3]}


def test_contains_nir():
    assert contains_nir("voici 1 85 05 78 006 084 36")
    assert not contains_nir("HDH-2026-000123")


def test_a_letter_links_secret_key_is_masked_wherever_it_appears():
    from privacy.masking import KEY_MASK

    text = "Votre lettre : https://exemple.fr/lettre/HDH-2026-000001?cle=Ab3_x-9Zq and more"
    assert mask_text(text) == f"Votre lettre : https://exemple.fr/lettre/HDH-2026-000001?cle={KEY_MASK} and more"
    nested = mask_value({"request": {"letter_url": "http://h/lettre/HDH-2026-000001?x=1&cle=secretKEY123"}})
    assert nested["request"]["letter_url"].endswith(f"&cle={KEY_MASK}")


@pytest.mark.parametrize("typed", ["482913", "mon code : 482 913", "482-913", "voici 004213."])
def test_a_typed_verification_code_never_reaches_the_log(typed):
    from privacy.events import mask_event_dict

    digits_typed = "".join(ch for ch in typed if ch.isdigit())
    entity = {"entity": "number", "value": digits_typed, "text": typed}
    event = {"event": "user", "text": typed, "parse_data": {"text": typed, "entities": [entity]}}
    masked = mask_event_dict(event, [])
    digits = "".join(ch for ch in typed if ch.isdigit())
    assert digits not in "".join(ch for ch in str(masked) if ch.isdigit())
    assert "[code masqué]" in masked["text"] and masked["parse_data"]["text"] == masked["text"]


def test_references_and_figures_are_not_taken_for_codes():
    from privacy.events import mask_event_dict

    for text in ("où en est HDH-2026-000123 ?", "en 2026", "75015 Paris", "1234567 lignes"):
        assert "[code masqué]" not in mask_event_dict({"event": "user", "text": text}, [])["text"]
    assert "HDH-2026-000123" in mask_event_dict({"event": "user", "text": "où en est HDH-2026-000123 ?"}, [])["text"]
    bot = {"event": "bot", "text": "plus de 200 000 projets"}
    assert mask_event_dict(bot, [])["text"] == bot["text"], "the assistant's own figures stay readable"
    slot = {"event": "slot", "name": "email_code", "value": "482913"}
    assert mask_event_dict(slot, [])["value"] == VALUE_MASK
