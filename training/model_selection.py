"""Compare classifier designs on the development set and in cross-validation (``make compare-classifiers``).

Each design is trained on the project's training data (``data/nlu``), its decision policy is
tuned on ``tests/nlu/dev.yml`` and the training data's out-of-fold predictions by the same rule
as ``make tune`` (`training.thresholds`), and it is then scored on dev and in 5-fold
cross-validation on the training data with that policy.
The three frozen test sets are never read here: a design is chosen on these figures only, and
the test sets report the choice afterwards (``make bench``).

Writes ``docs/classifier-selection.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

from settings import PROJECT_ROOT
from training.evaluation import (
    Example,
    Report,
    classifier_config,
    evaluate,
    load_examples,
    out_of_fold_rankings,
    training_examples,
)
from training.thresholds import DEV_SET, choose_policy, decided, forms_started_out_of_fold, sweep_policies

REPORT = PROJECT_ROOT / "docs" / "classifier-selection.md"
FOLDS = 5


@dataclass(frozen=True)
class Design:
    name: str
    classifier: str
    regularisation: float


DESIGNS = (
    Design("Régression logistique, C = 50", "logistic_regression", 50.0),
    Design("Régression logistique, C = 20", "logistic_regression", 20.0),
    Design("SVM linéaires calibrés (3), C = 1", "calibrated_svm", 1.0),
    Design("SVM linéaires calibrés (3), C = 2", "calibrated_svm", 2.0),
    Design("SVM linéaires calibrés (3), C = 5", "calibrated_svm", 5.0),
)


@dataclass
class Outcome:
    design: Design
    policy: object
    within_limits: bool
    dev: Report
    cv: Report
    ms_per_message: float


def fitted(design: Design, examples: Sequence[Example]):
    from rasa_addons.question_classifier import trained_model

    return trained_model(
        [e.text for e in examples], [e.intent for e in examples], design.regularisation, design.classifier
    )


def ranked(model, texts: Sequence[str]) -> Dict[str, List[Tuple[str, float]]]:
    from rasa_addons.question_classifier import rank_labels

    return dict(zip(texts, rank_labels(model, list(texts)), strict=True))


def measure(design: Design, train: Sequence[Example], dev: Sequence[Example], say: Callable[[str], None]) -> Outcome:
    from rasa_addons.question_classifier import DecisionPolicy, rank_labels

    say(f"{design.name}: training")
    model = fitted(design, train)
    dev_ranked = ranked(model, [e.text for e in dev])
    say(f"{design.name}: {FOLDS}-fold cross-validation")
    out_of_fold = out_of_fold_rankings(list(train), design.classifier, design.regularisation, FOLDS)
    results = sweep_policies(dev, dev_ranked, DecisionPolicy.from_config(classifier_config()))
    forms = forms_started_out_of_fold(train, out_of_fold, [policy for policy, _ in results])
    (policy, dev_report), within_limits = choose_policy(results, forms)
    cv_report = evaluate(train, decided(out_of_fold, policy), 0.0, 0.0)
    started = time.perf_counter()
    for e in dev[:200]:
        rank_labels(model, [e.text])
    ms = (time.perf_counter() - started) * 1000 / min(len(dev), 200)
    return Outcome(design, policy, within_limits, dev_report, cv_report, ms)


def chosen(outcomes: Sequence[Outcome]) -> Outcome:
    """The design to put in service: within make tune's limits on dev; then the fewest forms
    started wrongly in cross-validation (the worst error: a citizen pulled into a legal
    procedure); then the most right facts on dev, then the most given or offered."""
    pool = [o for o in outcomes if o.within_limits] or list(outcomes)
    return max(
        pool,
        key=lambda o: (-o.cv.forms_started_wrongly, o.dev.fact_accuracy, o.dev.fact_answered_or_offered),
    )


def row(o: Outcome, best: bool = False) -> str:
    p = o.policy
    d, c = o.dev, o.cv
    return (
        f"| {'**' + o.design.name + '** ←' if best else o.design.name} | {p.answer_threshold} / {p.answer_ratio} / {p.wish_threshold}"
        f"{'' if o.within_limits else ' (hors limites)'} | {d.fact_accuracy:.1%} | {d.fact_answered_or_offered:.1%} | "
        f"{d.confidently_wrong_rate:.1%} | {d.oos_fact_rate:.1%} | {d.forms_started_wrongly} | {d.other_accuracy:.1%} | "
        f"{c.fact_accuracy:.1%} | {c.fact_answered_or_offered:.1%} | {c.confidently_wrong_rate:.1%} | "
        f"{c.oos_fact_rate:.1%} | {c.forms_started_wrongly} ({c.forms_started_off_topic}) | {c.other_accuracy:.1%} | "
        f"{o.ms_per_message:.1f} |"
    )


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="design names containing one of these words")
    args = parser.parse_args(argv)
    designs = [d for d in DESIGNS if not args.only or any(w.lower() in d.name.lower() for w in args.only)]
    train, dev = training_examples(), load_examples(DEV_SET)
    outcomes = [measure(d, train, dev, lambda s: print(s, flush=True)) for d in designs]
    current = classifier_config()
    best = chosen(outcomes)
    lines = [
        "# Choix du classifieur, sur le jeu de développement et en validation croisée",
        "",
        f"Produit par `make compare-classifiers` le {dt.date.today().isoformat()} : {len(train)} exemples "
        f"d'entraînement (`data/nlu`), {len(dev)} questions de développement (`tests/nlu/dev.yml`). Pour chaque "
        "modèle, les seuils sont réglés sur le jeu de développement par la règle de `make tune`, puis le modèle "
        f"est mesuré sur ce jeu et en validation croisée à {FOLDS} plis sur les données d'entraînement avec ces "
        "seuils. Les jeux de test figés (réel, à l'aveugle, tenu à l'écart) ne sont pas lus ici.",
        "",
        f"Modèle en service (`config.yml`) : `{current.get('classifier', 'logistic_regression')}`, "
        f"régularisation {current.get('regularisation')}.",
        "",
        "Seuils : réponse / rapport / demande. « Sûr et faux » : un fait ou un formulaire qui n'était pas le bon, "
        "sur tous les messages. Formulaires : lancés sans demande (dont hors sujet). Autres intentions : souhaits "
        "de demande, salutations, annulations… bien compris.",
        "",
        "| modèle | seuils choisis | dev : bon fait | dev : donné ou proposé | dev : sûr et faux | "
        "dev : hors sujet recevant un fait | dev : formulaires | dev : autres intentions | VC : bon fait | VC : donné ou proposé | "
        "VC : sûr et faux | VC : hors sujet recevant un fait | VC : formulaires | VC : autres intentions | "
        "ms par message |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *[row(o, o is best) for o in outcomes],
        "",
        "Règle de choix : les seuils tiennent les limites de `make tune` sur le jeu de développement ; puis le "
        "moins de formulaires lancés sans demande en validation croisée (la pire erreur : un citoyen engagé dans "
        "une procédure qu'il n'a pas demandée) ; puis le plus de bons faits sur le jeu de développement. "
        f"**Choisi : {best.design.name}**, seuils {best.policy.answer_threshold} / {best.policy.answer_ratio} / "
        f"{best.policy.wish_threshold} (à reporter dans `config.yml`). Il ne sera mis en service que s'il passe "
        "`make promote`, qui le compare au modèle en service sur les jeux de développement, réel et à l'aveugle.",
        "",
    ]
    if not args.only:
        REPORT.write_text("\n".join(lines), encoding="utf-8")
        print(f"Report: {REPORT.relative_to(PROJECT_ROOT)}")
    print("\n".join(lines[-len(outcomes) - 4 :]))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
