"""Understanding quality: the assistant's NLU against two baselines, on the same data, in one run.

- the project's model, as trained by `make train` (rasa_addons.question_classifier: one classifier
  over every label, then an explicit decision; thresholds in config.yml chosen on the dev set);
- the previous pipeline (bench/previous_config.yml: spaCy, DIET, ResponseSelector), trained here;
- TF-IDF (word + character n-grams) + logistic regression, trained on the same examples, its
  confidence thresholds tuned on the development set.
Measured separately on three frozen test sets never used for training or tuning: the held-out set
(written by the team), the real questions (public sources) and the blind set (written without
seeing the training data); plus 5-fold cross-validation on the training data.
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
from training.evaluation import (
    Example,
    Report,
    Understanding,
    evaluate,
    load_examples,
    out_of_fold_rankings,
    training_examples,
    understand_all,
)
from training.thresholds import choose, sweep

HELDOUT = PROJECT_ROOT / "tests" / "nlu" / "heldout.yml"
TEST_SETS = {
    "heldout": HELDOUT,
    "real": PROJECT_ROOT / "tests" / "nlu" / "real.yml",
    "blind": PROJECT_ROOT / "tests" / "nlu" / "blind.yml",
}
PREVIOUS_CONFIG = PROJECT_ROOT / "bench" / "previous_config.yml"
DEV = PROJECT_ROOT / "tests" / "nlu" / "dev.yml"


@dataclass
class Scores:
    name: str
    report: Report
    macro_f1: float
    thresholds: Tuple[float, float]
    top1_accuracy: float = 0.0  # fact accuracy with no threshold: how good the ranking is


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
                result[text] = Understanding(label.split("/", 1)[0], confidence, None, 0.0)
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


def cross_validate_project(examples: List[Example], folds: int = 5) -> Scores:
    """The project's classifier and decision, retrained on each fold in-process (seconds)."""
    from rasa_addons.question_classifier import DecisionPolicy
    from training.evaluation import classifier_config
    from training.thresholds import decided

    component = classifier_config()
    ranked = out_of_fold_rankings(
        examples,
        component.get("classifier", "logistic_regression"),
        component.get("regularisation", 50.0),
        folds,
    )
    understood = decided(ranked, DecisionPolicy.from_config(component))
    return score(f"Le projet ({folds} plis)", examples, understood, (0.0, 0.0))


# Word-count bands for the length breakdown: real questions are long forum posts and written
# questions, the blind and held-out sets mostly short questions.
LENGTH_BANDS = (
    (1, 12, "1 à 12 mots"),
    (13, 30, "13 à 30 mots"),
    (31, 60, "31 à 60 mots"),
    (61, None, "plus de 60 mots"),
)


def words(text: str) -> int:
    return len(text.split())


def by_length(examples: List[Example], understood, thresholds) -> List[Tuple[str, int, Report]]:
    """The fact questions of one set, split by length, each band scored with the same decisions."""
    bands = []
    for low, high, label in LENGTH_BANDS:
        band = [e for e in examples if e.fact_id and low <= words(e.text) and (high is None or words(e.text) <= high)]
        bands.append((label, len(band), evaluate(band, understood, *thresholds)))
    return bands


def median_words(examples: List[Example]) -> float:
    counts = sorted(words(e.text) for e in examples if e.fact_id)
    middle = len(counts) // 2
    return float(counts[middle]) if len(counts) % 2 else (counts[middle - 1] + counts[middle]) / 2


def error_categories(report: Report) -> Dict[str, int]:
    """The kinds of errors issue #15 names, counted on one set."""
    neighbours = sum(report.confusions.values())
    return {
        "formulaire lancé sans demande": report.forms_started_wrongly,
        "dont pour un message hors sujet": report.forms_started_off_topic,
        "hors sujet recevant un fait": report.oos_given_fact,
        "fait voisin donné à la place du bon": neighbours,
        "question couverte mais refusée": report.fact_declined - report.fact_offered,
        "question couverte, bon fait proposé parmi les choix": report.fact_offered,
    }


def run(workdir: Path, main_model: Path, rasa_folds: int = 0, previous_pipeline: bool = True) -> Dict:
    from training.evaluation import assistant_thresholds

    workdir.mkdir(parents=True, exist_ok=True)
    sets = {name: load_examples(path) for name, path in TEST_SETS.items()}
    dev, train = load_examples(DEV), training_examples()
    everything = [e for examples in sets.values() for e in examples] + dev
    results: Dict = {
        "sets": {name: [] for name in sets},
        "sizes": {n: len(x) for n, x in sets.items()},
        "cv": [],
        "timings": {},
        "confusions": {},
        "categories": {},
        "by_length": {},
        "median_words": {name: median_words(examples) for name, examples in sets.items()},
    }

    print("quality: project model on the test sets", flush=True)
    understood = understand_all(everything, rasa_parser(main_model))
    for name, examples in sets.items():
        project = score("Le projet (classifieur unique + décision)", examples, understood, assistant_thresholds())
        results["sets"][name].append(project)
        results["confusions"][name] = confusions(project.report)
        results["categories"][name] = error_categories(project.report)
        results["by_length"][name] = by_length(examples, understood, assistant_thresholds())
        results.setdefault("errors", {})[name] = project.report.errors

    print("quality: TF-IDF baseline", flush=True)
    started = time.monotonic()
    baseline = TfidfBaseline(train)
    results["timings"]["train_tfidf_s"] = time.monotonic() - started
    understood = baseline.understand([e.text for e in everything])
    thresholds = tuned_thresholds(understood, dev)
    for name, examples in sets.items():
        results["sets"][name].append(score("TF-IDF + régression logistique", examples, understood, thresholds))

    if previous_pipeline:
        print("quality: training the previous pipeline (DIET + ResponseSelector, spaCy)", flush=True)
        model, seconds = train_nlu(
            PREVIOUS_CONFIG, PROJECT_ROOT / "data" / "nlu", workdir, "previous", workdir / "previous.log"
        )
        results["timings"]["train_previous_s"] = seconds
        understood = understand_all(everything, rasa_parser(model))
        thresholds = tuned_thresholds(understood, dev)
        for name, examples in sets.items():
            results["sets"][name].append(score("Pipeline précédent (DIET, spaCy)", examples, understood, thresholds))

    print("quality: 5-fold cross-validation", flush=True)
    started = time.monotonic()
    results["cv"].append(cross_validate_project(train))
    results["timings"]["train_project_fold_s"] = (time.monotonic() - started) / 5
    results["cv"].append(cross_validate_tfidf(train))
    if rasa_folds:
        results["cv"].append(cross_validate_rasa(PREVIOUS_CONFIG, train, rasa_folds, workdir, "Pipeline précédent"))
    return results
