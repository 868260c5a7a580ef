"""Measure how well the assistant understands: facts, out-of-scope, other intents.

Works from parse results (``/model/parse`` or an in-process agent), so the same code
serves the held-out test, threshold tuning (``make tune``) and benchmarks. A question
"receives a fact" when the top intent (ignoring Rasa's fallback) is ``faq`` with a
confidence at least the intent threshold, and the ResponseSelector's confidence is at
least the fact threshold: exactly the decisions the running assistant makes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import yaml

from gdpr.kinds import is_wish
from training.nlu_data import RETRIEVAL_INTENT

_ENTITY = re.compile(r"\[([^\]]+)\]\([^)]+\)")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str  # e.g. "faq/data_retention", "out_of_scope", "greet"

    @property
    def fact_id(self) -> Optional[str]:
        prefix = f"{RETRIEVAL_INTENT}/"
        return self.intent[len(prefix) :] if self.intent.startswith(prefix) else None


def normalised(text: str) -> str:
    """A question as a comparison key: lower case, no accents, words only."""
    text = unicodedata.normalize("NFKD", text.lower())
    return " ".join(re.findall(r"\w+", "".join(c for c in text if not unicodedata.combining(c))))


def load_examples(path: Path) -> List[Example]:
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    examples = []
    for block in document.get("nlu", []):
        if "intent" not in block:
            continue
        if isinstance(block["examples"], list):  # Rasa's form with metadata (e.g. a source URL)
            texts = [str(item["text"]) for item in block["examples"]]
        else:
            texts = [line.strip()[2:] for line in block["examples"].splitlines() if line.strip().startswith("- ")]
        examples += [Example(_ENTITY.sub(r"\1", text.strip()), block["intent"]) for text in texts]
    return examples


@dataclass(frozen=True)
class Understanding:
    """What the NLU made of one message, before thresholds are applied."""

    intent: Optional[str]
    intent_confidence: float
    fact_id: Optional[str]
    fact_confidence: float
    # When the assistant hesitates (« Vouliez-vous dire… ? »): the labels it offers, best first.
    candidates: Tuple[str, ...] = ()

    @classmethod
    def from_parse(cls, parse: Dict) -> "Understanding":
        ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != "nlu_fallback"]
        top = ranking[0] if ranking else (parse.get("intent") or {})
        selector = ((parse.get("response_selector") or {}).get(RETRIEVAL_INTENT) or {}).get("response") or {}
        key = selector.get("intent_response_key") or ""
        fact_id = key.split("/", 1)[1] if "/" in key else None
        if "label_ranking" in parse:  # rasa_addons.question_classifier: the NLU already decided
            intent = parse.get("intent") or {}
            return cls(
                intent.get("name"),
                float(intent.get("confidence") or 0),
                fact_id if intent.get("name") == RETRIEVAL_INTENT else None,
                float(selector.get("confidence") or 0),
                tuple(parse.get("candidates") or ()),
            )
        return cls(top.get("name"), float(top.get("confidence") or 0), fact_id, float(selector.get("confidence") or 0))

    @classmethod
    def from_decision(cls, decision: Any) -> "Understanding":
        """From rasa_addons.question_classifier.decide() replayed on a ranking (tuning, benchmarks)."""
        fact_confidence = decision.confidence if decision.fact_id else 0.0
        return cls(decision.intent, decision.confidence, decision.fact_id, fact_confidence, decision.candidates)

    def decide(self, intent_threshold: float, fact_threshold: float) -> Tuple[str, Optional[str]]:
        """(intent, fact id) as the assistant would act on them."""
        if self.intent is None or self.intent_confidence < intent_threshold:
            return "nlu_fallback", None
        if self.intent == RETRIEVAL_INTENT:
            if self.fact_id and self.fact_confidence >= fact_threshold:
                return RETRIEVAL_INTENT, self.fact_id
            return "nlu_fallback", None
        return self.intent, None


@dataclass
class Report:
    fact_total: int = 0
    fact_correct: int = 0
    fact_confidently_wrong: int = 0
    fact_declined: int = 0
    fact_offered: int = 0  # declined, but the right fact was among the choices offered
    forms_started_wrongly: int = 0  # a request form started for a message that was not that wish
    forms_started_off_topic: int = 0
    other_offered: int = 0
    oos_total: int = 0
    oos_given_fact: int = 0
    oos_recognised: int = 0
    other_total: int = 0
    other_correct: int = 0
    other_given_fact: int = 0
    predicted_oos_total: int = 0
    confusions: Dict[Tuple[str, str], int] = field(default_factory=dict)
    errors: List[Tuple[str, str, str]] = field(default_factory=list)

    @property
    def fact_accuracy(self) -> float:
        return self.fact_correct / self.fact_total if self.fact_total else 0.0

    @property
    def oos_fact_rate(self) -> float:
        return self.oos_given_fact / self.oos_total if self.oos_total else 0.0

    @property
    def oos_recall(self) -> float:
        return self.oos_recognised / self.oos_total if self.oos_total else 0.0

    @property
    def oos_precision(self) -> float:
        return self.oos_recognised / self.predicted_oos_total if self.predicted_oos_total else 0.0

    @property
    def fact_answered_or_offered(self) -> float:
        return (self.fact_correct + self.fact_offered) / self.fact_total if self.fact_total else 0.0

    @property
    def confidently_wrong_rate(self) -> float:
        """A fact or a form that was not right, over all messages."""
        total = self.fact_total + self.oos_total + self.other_total
        wrong = self.fact_confidently_wrong + self.oos_given_fact + self.other_given_fact + self.forms_started_wrongly
        return wrong / total if total else 0.0

    @property
    def other_accuracy(self) -> float:
        return self.other_correct / self.other_total if self.other_total else 0.0

    def summary(self) -> str:
        return (
            f"facts: {self.fact_correct}/{self.fact_total} correct ({self.fact_accuracy:.1%}), "
            f"{self.fact_confidently_wrong} confidently wrong, {self.fact_declined} declined "
            f"({self.fact_offered} of them offered among choices: {self.fact_answered_or_offered:.1%} answered or offered); "
            f"out-of-scope: {self.oos_given_fact}/{self.oos_total} given a fact ({self.oos_fact_rate:.1%}), "
            f"recall {self.oos_recall:.1%}, precision {self.oos_precision:.1%}; "
            f"other intents: {self.other_correct}/{self.other_total} ({self.other_accuracy:.1%}); "
            f"forms started wrongly {self.forms_started_wrongly} ({self.forms_started_off_topic} off-topic); "
            f"confidently wrong overall {self.confidently_wrong_rate:.1%}"
        )


def evaluate(
    examples: Iterable[Example],
    understood: Dict[str, Understanding],
    intent_threshold: float,
    fact_threshold: float,
) -> Report:
    report = Report()
    for example in examples:
        understanding = understood[example.text]
        intent, fact_id = understanding.decide(intent_threshold, fact_threshold)
        if intent == "out_of_scope":
            report.predicted_oos_total += 1
        if is_wish(intent or "") and intent != example.intent:
            report.forms_started_wrongly += 1
            if example.intent.startswith("out_of_scope"):
                report.forms_started_off_topic += 1
        expected_fact = example.fact_id
        if expected_fact:
            report.fact_total += 1
            if fact_id == expected_fact:
                report.fact_correct += 1
                continue
            if fact_id:
                report.fact_confidently_wrong += 1
                report.confusions[(expected_fact, fact_id)] = report.confusions.get((expected_fact, fact_id), 0) + 1
            else:
                report.fact_declined += 1
                if example.intent in understanding.candidates:
                    report.fact_offered += 1
            report.errors.append((example.text, example.intent, fact_id or intent))
        elif example.intent.split("/", 1)[0] == "out_of_scope":
            report.oos_total += 1
            if fact_id:
                report.oos_given_fact += 1
                report.errors.append((example.text, example.intent, f"faq/{fact_id}"))
            elif intent == "out_of_scope":
                report.oos_recognised += 1
        else:
            report.other_total += 1
            if intent == example.intent:
                report.other_correct += 1
            else:
                if example.intent in understanding.candidates:
                    report.other_offered += 1
                if fact_id:
                    report.other_given_fact += 1
                report.errors.append((example.text, example.intent, f"faq/{fact_id}" if fact_id else intent))
    return report


def classifier_config() -> Dict[str, Any]:
    """The QuestionClassifier's settings in config.yml (regularisation and decision thresholds)."""
    from settings import PROJECT_ROOT

    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())
    return next(c for c in config["pipeline"] if c["name"].endswith("QuestionClassifier"))


def assistant_thresholds() -> Tuple[float, float]:
    """(intent, fact) thresholds the running assistant decides with: the FallbackClassifier's in
    config.yml and FACT_CONFIDENCE_THRESHOLD."""
    import settings
    from settings import PROJECT_ROOT

    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())
    fallback = [c["threshold"] for c in config["pipeline"] if c["name"] == "FallbackClassifier"]
    # With rasa_addons.question_classifier the NLU decides itself (no FallbackClassifier).
    return (float(fallback[0]) if fallback else 0.0), settings.fact_confidence_threshold()


def training_examples() -> List[Example]:
    """The examples the model trains on (``data/nlu``, facts generated by ``make data``)."""
    from settings import PROJECT_ROOT

    examples: List[Example] = []
    for path in sorted((PROJECT_ROOT / "data" / "nlu").glob("*.yml")):
        examples += load_examples(path)
    return examples


def out_of_fold_rankings(
    examples: List[Example], classifier: str, regularisation: float, folds: int = 5
) -> Dict[str, List[Tuple[str, float]]]:
    """Each example's ranked labels from a model trained without its fold (stratified, seeded)."""
    from sklearn.model_selection import StratifiedKFold

    from rasa_addons.question_classifier import rank_labels, trained_model

    labels = [e.intent for e in examples]
    ranked: Dict[str, List[Tuple[str, float]]] = {}
    for train_index, test_index in StratifiedKFold(n_splits=folds, shuffle=True, random_state=42).split(
        examples, labels
    ):
        model = trained_model(
            [examples[i].text for i in train_index], [labels[i] for i in train_index], regularisation, classifier
        )
        texts = [examples[i].text for i in test_index]
        ranked.update(zip(texts, rank_labels(model, texts), strict=True))
    return ranked


def understand_all(examples: Iterable[Example], parse: Callable[[str], Dict]) -> Dict[str, Understanding]:
    return {e.text: Understanding.from_parse(parse(e.text)) for e in examples}
