"""Masking of free text (issue #19): quality on the PII set, and cost per stored message.

Quality: recall and precision per kind on ``tests/privacy_sets/pii_sentences.yml`` (written
blind, see ``privacy.evaluation``). Cost: the time the tracker store spends masking one
citizen message (``privacy.events.mask_event_dict``), with the free-text masking of names,
addresses and health conditions and without it (patterns and known values only, as before),
in the same run, over the PII set and the NLU test questions.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Dict, List, Tuple

import yaml

from privacy import events as event_masking
from privacy.evaluation import load_set, score
from privacy.free_text import load_ner
from privacy.masking import mask_text, mask_value
from settings import PROJECT_ROOT


@dataclass
class MaskingBench:
    sentences: int
    by_kind: Dict[str, Tuple[int, float, int, float]]  # kind: (expected, recall, predicted, precision)
    overall_precision: float
    messages: int
    with_free_text_ms: Tuple[float, float]  # p50, p95
    patterns_only_ms: Tuple[float, float]
    ner_load_s: float


def _questions() -> List[str]:
    texts = [s.text for s in load_set()]
    for name in ("real", "blind", "heldout"):
        document = yaml.safe_load((PROJECT_ROOT / "tests" / "nlu" / f"{name}.yml").read_text(encoding="utf-8"))
        for block in document.get("nlu", []):
            texts += [line[2:].strip() for line in str(block.get("examples", "")).splitlines() if line.startswith("- ")]
    return texts


def _user_event(text: str) -> dict:
    return {
        "event": "user",
        "timestamp": 0.0,
        "text": text,
        "parse_data": {"text": text, "intent": {"name": "faq", "confidence": 0.9}, "entities": []},
    }


def _patterns_only(data: dict, known: list) -> dict:
    """The masking as it was before #19: e-mails, numbers, keys, known values."""
    masked = dict(data)
    masked["text"] = mask_text(data["text"], known)
    masked["parse_data"] = mask_value(data["parse_data"], known)
    return masked


def _timings(function, events, rounds: int = 3) -> Tuple[float, float]:
    samples = []
    for _ in range(rounds):
        for event in events:
            start = time.perf_counter()
            function(event, [])
            samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def run() -> MaskingBench:
    started = time.perf_counter()
    load_ner()
    ner_load_s = time.perf_counter() - started
    result = score(load_set())
    events = [_user_event(t) for t in _questions()]
    for event in events[:20]:  # warm caches (lexicon pattern, first names, vocabulary)
        event_masking.mask_event_dict(event, [])
    with_free_text = _timings(event_masking.mask_event_dict, events)
    patterns_only = _timings(_patterns_only, events)
    return MaskingBench(
        sentences=result.sentences,
        by_kind={k: (v.expected, v.recall, v.predicted, v.precision) for k, v in result.by_kind.items()},
        overall_precision=result.overall_precision,
        messages=len(events),
        with_free_text_ms=with_free_text,
        patterns_only_ms=patterns_only,
        ner_load_s=ner_load_s,
    )


KIND_LABELS = {"name": "noms de personnes", "address": "adresses postales", "health": "états de santé"}


def section(bench: MaskingBench, measured: str) -> List[str]:
    lines = [
        "## Masquage du texte libre",
        "",
        f"Mesuré le {measured}. Jeu `tests/privacy_sets/pii_sentences.yml` ({bench.sentences} phrases écrites à "
        "l'aveugle, sans voir le code du masquage). Une donnée attendue est « rappelée » quand aucune de ses "
        "lettres ou chiffres ne reste lisible ; un masque est « juste » quand il recouvre une donnée attendue.",
        "",
        "| type | données attendues | rappel | masques posés | précision |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, (expected, recall, predicted, precision) in bench.by_kind.items():
        lines.append(f"| {KIND_LABELS.get(kind, kind)} | {expected} | {recall:.1%} | {predicted} | {precision:.1%} |")
    lines += [
        f"| tous | | | | {bench.overall_precision:.1%} |",
        "",
        f"Coût par message enregistré (masquage d'un message de citoyen par le tracker store, {bench.messages} "
        "messages : le jeu ci-dessus et les questions des jeux NLU, trois passages) :",
        "",
        "| masquage | p50 (ms) | p95 (ms) |",
        "|---|---:|---:|",
        f"| avec le texte libre (noms, adresses, santé) | {bench.with_free_text_ms[0]:.2f} | "
        f"{bench.with_free_text_ms[1]:.2f} |",
        f"| motifs seulement (avant #19 : e-mails, numéros, valeurs connues) | {bench.patterns_only_ms[0]:.2f} | "
        f"{bench.patterns_only_ms[1]:.2f} |",
        "",
        f"Chargement de la reconnaissance d'entités de spaCy au démarrage du serveur Rasa : {bench.ner_load_s:.1f} s "
        "(en arrière-plan). La latence de la pile complète (partie « Vitesse de service ») inclut ce masquage.",
        "",
    ]
    return lines
