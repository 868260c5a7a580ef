"""Masking of personal data before anything is stored or logged (SPEC §4)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, FrozenSet, Iterable, Mapping, Optional, Pattern

EMAIL_MASK = "[e-mail masqué]"
PHONE_MASK = "[téléphone masqué]"
NIR_MASK = "[NIR masqué]"
VALUE_MASK = "[masqué]"
KEY_MASK = "[clé masquée]"
CODE_MASK = "[code masqué]"

_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# French social-security number (NIR): 13 digits (+ 2-digit key), often typed with
# spaces; Corsica departments use 2A/2B. Any long run of digits is masked too.
_NIR = re.compile(
    r"(?<![\w])[12][\s.]?\d{2}[\s.]?\d{2}[\s.]?(?:\d{2}|2[AaBb])[\s.]?\d{3}[\s.]?\d{3}(?:[\s.]?\d{2})?(?![\w])"
)
_LONG_DIGITS = re.compile(r"(?<![\w-])\d(?:[\s.]?\d){10,}(?![\w])")
# The secret key of a letter link (/lettre/<reference>?cle=…): whoever has it reads the letter.
_LETTER_KEY = re.compile(r"([?&]cle=)[A-Za-z0-9_-]+")
# A 6-digit e-mail verification code as a citizen types it (« 482913 », « 482 913 »); not the
# digits of a reference (HDH-2026-000123).
_VERIFICATION_CODE = re.compile(r"(?<![\w-])\d{3}[ .-]?\d{3}(?![\w-])")
_PHONE = re.compile(r"(?<![\w])(?:(?:\+|00)\s?33[\s.-]?|0)[1-9](?:[\s.-]?\d{2}){4}(?![\w])")


_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=256)
def _known_values_pattern(values: FrozenSet[str]) -> Optional[Pattern[str]]:
    """One pattern for all known values, longest first so that a longer value wins."""
    cleaned = sorted({v.strip() for v in values if v and len(v.strip()) >= 2}, key=len, reverse=True)
    if not cleaned:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(v) for v in cleaned) + r")(?!\w)", re.IGNORECASE)


def _mask(text: str, known: Optional[Pattern[str]]) -> str:
    if not text:
        return text
    masked = _EMAIL.sub(EMAIL_MASK, text) if "@" in text else text
    if "cle=" in masked:
        masked = _LETTER_KEY.sub(r"\1" + KEY_MASK, masked)
    if _DIGIT.search(masked):  # NIR, phone numbers and long numbers all need digits
        masked = _NIR.sub(NIR_MASK, masked)
        masked = _PHONE.sub(PHONE_MASK, masked)
        masked = _LONG_DIGITS.sub(NIR_MASK, masked)
    return known.sub(VALUE_MASK, masked) if known is not None else masked


def mask_text(text: str, known_values: Iterable[str] = (), free_text: bool = False) -> str:
    """Mask e-mails, NIR-like numbers, phone numbers, letter keys and the given known values.

    With ``free_text``, also person names, postal addresses and health conditions found in the
    text itself (``privacy.free_text``): for what a citizen typed."""
    masked = _mask(text, _known_values_pattern(frozenset(v for v in known_values if isinstance(v, str))))
    if free_text and masked:
        from privacy.free_text import mask_personal_data

        masked = mask_personal_data(masked)
    return masked


def mask_codes(text: str) -> str:
    """Mask what looks like a verification code in a citizen's message (only there: the
    assistant's own texts hold figures such as « 200 000 »)."""
    return _VERIFICATION_CODE.sub(CODE_MASK, text) if text and _DIGIT.search(text) else text


def find_codes(text: str) -> list:
    """The verification codes `mask_codes` would mask, as typed (to mask their copies too)."""
    return _VERIFICATION_CODE.findall(text) if text and _DIGIT.search(text) else []


def contains_nir(text: str) -> bool:
    return bool(text) and bool(_NIR.search(text) or _LONG_DIGITS.search(text))


def mask_value(value: Any, known_values: Iterable[str] = (), masked_texts: Optional[Mapping[str, str]] = None) -> Any:
    """Mask every string inside a JSON-like value.

    ``masked_texts`` maps a text already masked with ``free_text`` to its masked form (the
    message's text repeated in its parse data)."""
    known = _known_values_pattern(frozenset(v for v in known_values if isinstance(v, str)))
    return _mask_value(value, known, masked_texts or {})


def _mask_value(value: Any, known: Optional[Pattern[str]], masked_texts: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        if value in masked_texts:
            return masked_texts[value]
        return _mask(value, known)
    if isinstance(value, list):
        return [_mask_value(v, known, masked_texts) for v in value]
    if isinstance(value, dict):
        return {k: _mask_value(v, known, masked_texts) for k, v in value.items()}
    return value
