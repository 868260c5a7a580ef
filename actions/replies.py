"""Helpers that build the replies' machine-readable parts (SPEC §3.2)."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Sequence

from training.facts import Catalogue, Fact

# Suggestions shown when the assistant could not answer: the questions asked most.
STARTER_FACT_IDS = ("hdh_presentation", "hosting_microsoft", "rights_overview", "chat_privacy")


def fact_button(fact: Fact) -> Dict[str, str]:
    payload = json.dumps({"fact_id": fact.id}, separators=(",", ":"))
    return {"title": fact.title, "payload": f"/ask_fact{payload}"}


def fact_buttons(catalogue: Catalogue, fact_ids: Sequence[str]) -> List[Dict[str, str]]:
    return [fact_button(catalogue[f]) for f in fact_ids if f in catalogue]


def fallback_payload(reason: str) -> Dict[str, Any]:
    return {"fallback": reason}
