"""Understanding quality: the assistant's pipeline against two baselines, on the same data.

- the project's model (Rasa + spaCy fr_core_news_md), as trained by `make train`;
- the same Rasa pipeline without spaCy (sparse features only), trained here;
- TF-IDF (word + character n-grams) + logistic regression with a confidence threshold
  tuned on the development set, trained on the same examples.
Measured on the held-out test set, plus 5-fold cross-validation on the training data
(for the TF-IDF baseline always; for Rasa pipelines with --rasa-folds, as it retrains).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import yaml

from settings import PROJECT_ROOT
from training.evaluation import Example, Report, Understanding, evaluate, load_examples, understand_all
from training.thresholds import choose, sweep

HELDOUT = PROJECT_ROOT / "tests" / "nlu" / "heldout.yml"
DEV = PROJECT_ROOT / "tests" / "nlu" / "dev.yml"


@dataclass
class Scores:
    name: str
    report: Report
    macro_f1: float
    thresholds: Tuple[float, float]
    top1_accuracy: float = 0.0  # fact accuracy with no threshold: how good the ranking is


def training_examples() -> List[Example]:
    examples: List[Example] = []
    for path in sorted((PROJECT_ROOT / "data" / "nlu").glob("*.yml")):
        examples += load_examples(path)
    return examples


def decisions(examples, understood, thresholds) -> List[Tuple[str, str]]:
    """(expected label, decided label) per example, labels as faq/<id> or intent."""
    pairs = []
    for e in examples:
        intent, fact = understood[e.text].decide(*thresholds)
        pairs.append((e.intent, f"faq/{fact}" if fact else intent))
    return pairs


def macro_f1_over_facts(pairs) -> float:
    facts = sorted({exp for exp, _ in pairs if exp.startswith("faq/")})
    scores = []
    for fact in facts:
        tp = sum(1 for e, d in pairs if e == fact and d == fact)
        fp = sum(1 for e, d in pairs if e != fact and d == fact)
        fn = sum(1 for e, d in pairs if e == fact and d != fact)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def tuned_thresholds(dev_understood, dev_examples) -> Tuple[float, float]:
    (it, ft, _), _ = choose(sweep(dev_examples, dev_understood))
    return it, ft


def score(name, examples, understood, thresholds) -> Scores:
    report = evaluate(examples, understood, *thresholds)
    top1 = evaluate(examples, understood, 0.0, 0.0).fact_accuracy
    return Scores(name, report, macro_f1_over_facts(decisions(examples, understood, thresholds)), thresholds, top1)


# --- Rasa pipelines ------------------------------------------------------------------
def rasa_parser(model: Path):
    from training.thresholds import in_process_parser

    return in_process_parser(model)


def config_without_spacy(target: Path) -> Path:
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())
    pipeline = []
    for component in config["pipeline"]:
        if component["name"] in ("SpacyNLP", "SpacyFeaturizer"):
            continue
        if component["name"] == "SpacyTokenizer":
            component = {"name": "WhitespaceTokenizer"}
        pipeline.append(component)
    config["pipeline"] = pipeline
    target.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return target


def train_nlu(config: Path, data: Path, out: Path, name: str, log: Path) -> Tuple[Path, float]:
    started = time.monotonic()
    command = [
        sys.executable,
        "-m",
        "rasa",
        "train",
        "nlu",
        "--quiet",
        "--config",
        str(config),
        "--out",
        str(out),
        "--fixed-model-name",
        name,
        "--nlu",
        str(data),
    ]
    with open(log, "w") as handle:
        subprocess.run(command, cwd=PROJECT_ROOT, stdout=handle, stderr=subprocess.STDOUT, check=True)
    return out / f"{name}.tar.gz", time.monotonic() - started


# --- TF-IDF baseline -------------------------------------------------------------------
class TfidfBaseline:
    def __init__(self, examples: List[Example]):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, make_pipeline

        features = FeatureUnion(
            [
                ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
            ]
        )
        self.model = make_pipeline(features, LogisticRegression(C=20, max_iter=3000))
        self.model.fit([e.text for e in examples], [e.intent for e in examples])

    def understand(self, texts) -> Dict[str, Understanding]:
        probabilities = self.model.predict_proba(list(texts))
        labels = self.model.classes_
        result = {}
        for text, row in zip(texts, probabilities, strict=True):
            best = row.argmax()
            label, confidence = labels[best], float(row[best])
            if label.startswith("faq/"):
                result[text] = Understanding("faq", confidence, label[4:], confidence)
            else:
                result[text] = Understanding(label, confidence, None, 0.0)
        return result


def cross_validate_tfidf(examples: List[Example], folds: int = 5) -> Scores:
    from sklearn.model_selection import StratifiedKFold

    labels = [e.intent for e in examples]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=42)
    understood: Dict[str, Understanding] = {}
    for train_index, test_index in splitter.split(examples, labels):
        model = TfidfBaseline([examples[i] for i in train_index])
        understood.update(model.understand([examples[i].text for i in test_index]))
    # Thresholds chosen on the out-of-fold predictions themselves (no separate dev set here).
    thresholds = tuned_thresholds(understood, examples)
    return score(f"TF-IDF + régression logistique ({folds} plis)", examples, understood, thresholds)


def cross_validate_rasa(config: Path, examples: List[Example], folds: int, workdir: Path, name: str) -> Scores:
    from sklearn.model_selection import StratifiedKFold

    labels = [e.intent for e in examples]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=42)
    understood: Dict[str, Understanding] = {}
    responses = yaml.safe_load((PROJECT_ROOT / "data" / "nlu" / "facts.yml").read_text())["responses"]
    for fold, (train_index, test_index) in enumerate(splitter.split(examples, labels)):
        by_intent: Dict[str, List[str]] = {}
        for i in train_index:
            by_intent.setdefault(examples[i].intent, []).append(examples[i].text)
        document = {
            "version": "3.1",
            "nlu": [
                {"intent": k, "examples": "".join(f"- {t.replace('[', '(').replace(']', ')')}\n" for t in v)}
                for k, v in by_intent.items()
            ],
            "responses": responses,
        }
        data = workdir / f"fold{fold}.yml"
        data.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
        model, _ = train_nlu(config, data, workdir, f"{name}-fold{fold}", workdir / f"{name}-fold{fold}.log")
        understood.update(understand_all([examples[i] for i in test_index], rasa_parser(model)))
    thresholds = tuned_thresholds(understood, examples)
    return score(f"{name} ({folds} plis)", examples, understood, thresholds)


def confusions(report: Report, top: int = 12) -> List[Tuple[Tuple[str, str], int]]:
    return Counter(report.confusions).most_common(top)


def run(workdir: Path, main_model: Path, rasa_folds: int = 0) -> Dict:
    workdir.mkdir(parents=True, exist_ok=True)
    heldout, dev, train = load_examples(HELDOUT), load_examples(DEV), training_examples()
    results: Dict = {"heldout": [], "cv": [], "timings": {}}

    print("quality: project model on held-out and dev sets", flush=True)
    parse = rasa_parser(main_model)
    understood = understand_all(heldout + dev, parse)
    thresholds = tuned_thresholds(understood, dev)
    project = score("Rasa + spaCy (le projet)", heldout, understood, thresholds)
    results["heldout"].append(project)

    print("quality: training the same pipeline without spaCy", flush=True)
    config = config_without_spacy(workdir / "config-no-spacy.yml")
    model, seconds = train_nlu(config, PROJECT_ROOT / "data" / "nlu", workdir, "no-spacy", workdir / "no-spacy.log")
    results["timings"]["train_no_spacy_s"] = seconds
    understood = understand_all(heldout + dev, rasa_parser(model))
    results["heldout"].append(score("Rasa sans spaCy", heldout, understood, tuned_thresholds(understood, dev)))

    print("quality: TF-IDF baseline", flush=True)
    started = time.monotonic()
    baseline = TfidfBaseline(train)
    results["timings"]["train_tfidf_s"] = time.monotonic() - started
    understood = baseline.understand([e.text for e in heldout + dev])
    results["heldout"].append(
        score("TF-IDF + régression logistique", heldout, understood, tuned_thresholds(understood, dev))
    )

    print("quality: 5-fold cross-validation", flush=True)
    results["cv"].append(cross_validate_tfidf(train))
    if rasa_folds:
        results["cv"].append(
            cross_validate_rasa(PROJECT_ROOT / "config.yml", train, rasa_folds, workdir, "Rasa + spaCy")
        )
        results["cv"].append(cross_validate_rasa(config, train, rasa_folds, workdir, "Rasa sans spaCy"))
    results["confusions"] = confusions(project.report)
    return results
