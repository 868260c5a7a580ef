"""Masking of personal data before anything is stored or logged (SPEC §4)."""
from __future__ import annotations

import re
from typing import Any, Iterable, List

EMAIL_MASK = "[e-mail masqué]"
PHONE_MASK = "[téléphone masqué]"
NIR_MASK = "[NIR masqué]"
VALUE_MASK = "[masqué]"

_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# French social-security number (NIR): 13 digits (+ 2-digit key), often typed with
# spaces; Corsica departments use 2A/2B. Any long run of digits is masked too.
_NIR = re.compile(
    r"(?<![\w])[12][\s.]?\d{2}[\s.]?\d{2}[\s.]?(?:\d{2}|2[AaBb])[\s.]?\d{3}[\s.]?\d{3}(?:[\s.]?\d{2})?(?![\w])"
)
_LONG_DIGITS = re.compile(r"(?<![\w-])\d(?:[\s.]?\d){10,}(?![\w])")
_PHONE = re.compile(r"(?<![\w])(?:(?:\+|00)\s?33[\s.-]?|0)[1-9](?:[\s.-]?\d{2}){4}(?![\w])")


def mask_text(text: str, known_values: Iterable[str] = ()) -> str:
    """Mask e-mails, NIR-like numbers, phone numbers and the given known values."""
    if not text:
        return text
    masked = _EMAIL.sub(EMAIL_MASK, text)
    masked = _NIR.sub(NIR_MASK, masked)
    masked = _PHONE.sub(PHONE_MASK, masked)
    masked = _LONG_DIGITS.sub(NIR_MASK, masked)
    for value in sorted({v.strip() for v in known_values if v and len(v.strip()) >= 2}, key=len, reverse=True):
        masked = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", VALUE_MASK, masked, flags=re.IGNORECASE)
    return masked


def contains_nir(text: str) -> bool:
    return bool(text) and bool(_NIR.search(text) or _LONG_DIGITS.search(text))


def mask_value(value: Any, known_values: Iterable[str] = ()) -> Any:
    """Mask every string inside a JSON-like value."""
    known: List[str] = list(known_values)
    if isinstance(value, str):
        return mask_text(value, known)
    if isinstance(value, list):
        return [mask_value(v, known) for v in value]
    if isinstance(value, dict):
        return {k: mask_value(v, known) for k, v in value.items()}
    return value
