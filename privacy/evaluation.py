"""Recall and precision of free-text masking on a labelled set (tests/privacy_sets/).

An expected span (a name, an address, a health condition written by the set's author) is
*recalled* when every letter and digit of it is inside a masked span: once stored, nothing of
it can be read. A masked span is *right* when it overlaps an expected span; otherwise it hid
something that was not personal (over-masking). Both are reported per kind: recall by the
kind the author gave, precision by the kind the masker gave.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import yaml

from privacy.free_text import KINDS, Span, find_personal_data
from settings import PROJECT_ROOT

PII_SET = PROJECT_ROOT / "tests" / "privacy_sets" / "pii_sentences.yml"


@dataclass(frozen=True)
class LabelledSentence:
    text: str
    expected: Tuple[Span, ...]


@dataclass
class KindScore:
    expected: int = 0
    recalled: int = 0
    predicted: int = 0
    right: int = 0

    @property
    def recall(self) -> float:
        return self.recalled / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.right / self.predicted if self.predicted else 1.0


@dataclass
class MaskingScore:
    by_kind: Dict[str, KindScore] = field(default_factory=lambda: {k: KindScore() for k in KINDS})
    missed: List[Tuple[str, str, str]] = field(default_factory=list)  # (kind, span text, sentence)
    over_masked: List[Tuple[str, str, str]] = field(default_factory=list)
    sentences: int = 0

    @property
    def overall_precision(self) -> float:
        predicted = sum(s.predicted for s in self.by_kind.values())
        right = sum(s.right for s in self.by_kind.values())
        return right / predicted if predicted else 1.0


def load_set(path: Path = PII_SET) -> List[LabelledSentence]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    sentences = []
    for item in document["sentences"]:
        text = item["text"]
        spans = []
        for kind in KINDS:
            for value in item.get(kind) or ():
                start = text.find(value)
                while start >= 0:
                    spans.append(Span(start, start + len(value), kind))
                    start = text.find(value, start + 1)
        sentences.append(LabelledSentence(text, tuple(sorted(spans))))
    return sentences


def _alnum_positions(text: str, span: Span) -> List[int]:
    return [i for i in range(span.start, span.end) if text[i].isalnum()]


def score(sentences: Sequence[LabelledSentence]) -> MaskingScore:
    result = MaskingScore(sentences=len(sentences))
    for sentence in sentences:
        predicted = find_personal_data(sentence.text)
        covered = {i for s in predicted for i in range(s.start, s.end)}
        for span in sentence.expected:
            kind_score = result.by_kind[span.kind]
            kind_score.expected += 1
            if all(i in covered for i in _alnum_positions(sentence.text, span)):
                kind_score.recalled += 1
            else:
                result.missed.append((span.kind, sentence.text[span.start : span.end], sentence.text))
        expected_positions = {i for s in sentence.expected for i in _alnum_positions(sentence.text, s)}
        for span in predicted:
            kind_score = result.by_kind[span.kind]
            kind_score.predicted += 1
            if any(i in expected_positions for i in range(span.start, span.end)):
                kind_score.right += 1
            else:
                result.over_masked.append((span.kind, sentence.text[span.start : span.end], sentence.text))
    return result
