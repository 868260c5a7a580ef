"""Masking of one serialised Rasa event before it is stored or published (SPEC §4).

Used by the tracker store on every save and by ``make remask`` on events stored earlier."""

from __future__ import annotations

from typing import Any, Dict, Iterable

from gdpr.kinds import PERSONAL_SLOTS
from privacy.free_text import find_personal_data, mask_personal_data
from privacy.masking import VALUE_MASK, find_codes, mask_codes, mask_text, mask_value

# Slots holding text a citizen typed that operators read (masked like a message, not hidden whole).
FREE_TEXT_SLOTS = frozenset({"feedback_comment", "contact_question"})
# Slots that may briefly hold a secret the citizen typed: never stored, whatever their value.
SECRET_SLOTS = frozenset({"email_code"})


def mask_event_dict(data: Dict[str, Any], known_values: Iterable[str]) -> Dict[str, Any]:
    """Return a copy of a serialised event with personal data masked."""
    known = list(known_values)
    masked = dict(data)
    event_type = data.get("event")
    if event_type == "slot":
        if data.get("name") in PERSONAL_SLOTS | SECRET_SLOTS and data.get("value") is not None:
            masked["value"] = VALUE_MASK
        elif data.get("name") in FREE_TEXT_SLOTS and isinstance(data.get("value"), str):
            masked["value"] = mask_text(data["value"], known, free_text=True)
        else:
            masked["value"] = mask_value(data.get("value"), known)
        return masked
    if event_type in ("user", "bot"):
        masked_texts: Dict[str, str] = {}
        typed = data.get("text")
        if isinstance(typed, str) and event_type == "user":
            # What a citizen typed may hold a name, an address or a health condition anywhere;
            # what was found is also masked where the message is repeated (parse data, entities).
            # A verification code is masked in the text and wherever the parse data repeat it
            # (an entity extracted from it, for instance).
            codes = find_codes(typed)
            known = known + codes + ["".join(ch for ch in code if ch.isdigit()) for code in codes]
            regex_masked = mask_text(mask_codes(typed), known)
            spans = find_personal_data(regex_masked)
            masked["text"] = masked_texts[typed] = mask_personal_data(regex_masked, spans)
            known = known + [regex_masked[s.start : s.end] for s in spans]
        elif isinstance(typed, str):
            masked["text"] = mask_text(typed, known)
        for key in ("parse_data", "data", "metadata"):
            if key in data:
                masked[key] = mask_value(data[key], known, masked_texts)
    return masked
