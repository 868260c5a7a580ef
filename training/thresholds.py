"""Tune the NLU's decision on the development set (``make tune``).

Parses ``tests/nlu/dev.yml`` with the trained model, keeps each message's ranked labels, and
replays `rasa_addons.question_classifier.decide` with a grid of policies (answer threshold and
ratio, wish threshold). The chosen policy gives the right fact most often among those that keep
confidently-wrong replies (a fact or a form that was not right) at or under 2 %, give a fact to
at most 2 % of out-of-scope questions and start no form uninvited on dev, and as few as
possible on the training data predicted out of fold (5-fold cross-validation); ties go to the policy that
offers the right fact most often when it hesitates, then to the one that understands the other
intents best (a clear wish starts its form, « annuler » cancels). Writes ``docs/fallback-threshold.md``; the
values go into ``config.yml`` by hand. The three test sets are never used here.

`sweep` and `choose` tune the two thresholds of a plain classifier (the benchmarks' baselines).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from settings import PROJECT_ROOT
from training.evaluation import (
    Report,
    Understanding,
    classifier_config,
    evaluate,
    load_examples,
    out_of_fold_rankings,
    training_examples,
)
from training.model_store import current_model_path

DEV_SET = PROJECT_ROOT / "tests" / "nlu" / "dev.yml"
REPORT = PROJECT_ROOT / "docs" / "fallback-threshold.md"
GRID = [round(0.05 * i, 2) for i in range(2, 19)]
MAX_OOS_FACT_RATE = 0.02
MAX_CONFIDENTLY_WRONG = 0.02


def in_process_parser(model: Path):
    import logging

    import rasa_addons

    rasa_addons.import_classifier_format()  # before Rasa, when nothing imported it yet
    from rasa.core.agent import load_agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # no per-message debug lines (they print the text)

    agent = asyncio.run(load_agent(model_path=str(model)))

    def parse(text: str) -> Dict:
        return asyncio.run(agent.parse_message(text))

    return parse


def sweep(examples, understood) -> List[Tuple[float, float, Report]]:
    return [(it, ft, evaluate(examples, understood, it, ft)) for it in GRID for ft in GRID]


def _within_limits(report: Report) -> bool:
    return report.oos_fact_rate <= MAX_OOS_FACT_RATE and report.confidently_wrong_rate <= MAX_CONFIDENTLY_WRONG


def choose(results):
    # The limits must also hold one grid step below the chosen fact threshold: the lowest
    # threshold that meets them on dev sits on the edge, and real questions (or the
    # held-out set) push a few more out-of-scope questions over it.
    by_pair = {(it, ft): r for it, ft, r in results}
    step = GRID[1] - GRID[0]
    acceptable = [
        r for r in results if _within_limits(r[2]) and _within_limits(by_pair.get((r[0], round(r[1] - step, 2)), r[2]))
    ]
    pool = acceptable or results
    score = lambda r: (r[2].fact_accuracy, -r[2].confidently_wrong_rate, -r[2].oos_fact_rate, r[2].other_accuracy)  # noqa: E731
    best = max(score(r) for r in pool)
    ties = [r for r in pool if score(r) == best]
    # The lowest fact threshold that scores best (fewer needless "not sure"), and the
    # middle of the plateau of equally good intent thresholds (the most robust choice).
    fact_threshold = min(r[1] for r in ties)
    plateau = sorted(r for r in ties if r[1] == fact_threshold)
    return plateau[len(plateau) // 2], bool(acceptable)


ANSWER_THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7)
ANSWER_RATIOS = (1.0, 1.5, 2.0, 3.0)
WISH_THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.9)


def decided(ranked: Dict[str, List[Tuple[str, float]]], policy) -> Dict[str, Understanding]:
    from rasa_addons.question_classifier import decide

    result = {}
    for text, ranking in ranked.items():
        result[text] = Understanding.from_decision(decide(ranking, policy))
    return result


def sweep_policies(examples, ranked, base) -> List[Tuple[object, Report]]:
    from dataclasses import replace

    results = []
    for answer in ANSWER_THRESHOLDS:
        for ratio in ANSWER_RATIOS:
            for wish in WISH_THRESHOLDS:
                policy = replace(base, answer_threshold=answer, answer_ratio=ratio, wish_threshold=wish)
                results.append((policy, evaluate(examples, decided(ranked, policy), 0.0, 0.0)))
    return results


def forms_started_out_of_fold(examples, ranked_out_of_fold, policies) -> Dict[object, int]:
    """Per policy, how many training examples would start a form they did not ask for."""
    return {p: evaluate(examples, decided(ranked_out_of_fold, p), 0.0, 0.0).forms_started_wrongly for p in policies}


def _excess(r: Report) -> float:
    """How far a result is beyond the limits (0 within them)."""
    return max(0.0, r.confidently_wrong_rate - MAX_CONFIDENTLY_WRONG) + max(0.0, r.oos_fact_rate - MAX_OOS_FACT_RATE)


def choose_policy(results, forms_out_of_fold: Optional[Dict[object, int]] = None):
    """The most right facts within the limits; when no combination holds them, the one closest
    to them (being sure and wrong costs a citizen more than a « Vouliez-vous dire… ? »).

    No form may start uninvited on dev, and, when `forms_out_of_fold` is given (policy -> forms
    started wrongly on the training data's out-of-fold predictions), as few as possible on the
    training data: dev holds few questions about a right worded like a wish, the training data many."""
    forms_out_of_fold = forms_out_of_fold or {}
    no_forms_on_dev = [x for x in results if x[1].forms_started_wrongly == 0] or results
    fewest = min(forms_out_of_fold.get(x[0], 0) for x in no_forms_on_dev)
    no_forms = [x for x in no_forms_on_dev if forms_out_of_fold.get(x[0], 0) == fewest]
    safe = [x for x in no_forms if _within_limits(x[1])]
    if safe:
        pool = safe
    else:
        closest = min(round(_excess(x[1]), 4) for x in no_forms)
        pool = [x for x in no_forms if round(_excess(x[1]), 4) == closest]
    return max(
        pool,
        key=lambda x: (
            x[1].fact_accuracy,
            x[1].fact_answered_or_offered,
            -x[1].confidently_wrong_rate,
            x[1].other_accuracy,  # wishes that start their form, greetings, cancels…
            x[0].answer_ratio,
            x[0].wish_threshold,
        ),
    ), bool(safe)


def main() -> int:

    from rasa_addons.question_classifier import DecisionPolicy

    model = current_model_path()
    if not model.exists():
        print("No model for the current data: run `make train` first.", file=sys.stderr)
        return 1
    examples = load_examples(DEV_SET)
    parse = in_process_parser(model)
    ranked = {}
    for e in examples:
        ranking = parse(e.text).get("label_ranking") or []
        ranked[e.text] = [(r["name"], float(r["confidence"])) for r in ranking]
    component = classifier_config()
    current = DecisionPolicy.from_config(component)
    results = sweep_policies(examples, ranked, current)
    train = training_examples()
    out_of_fold = out_of_fold_rankings(
        train, component.get("classifier", "logistic_regression"), component.get("regularisation", 50.0)
    )
    forms_out_of_fold = forms_started_out_of_fold(train, out_of_fold, [policy for policy, _ in results])
    (best, report), constrained = choose_policy(results, forms_out_of_fold)
    now = evaluate(examples, decided(ranked, current), 0.0, 0.0)
    lines = [
        "# Seuils de décision, réglés sur le jeu de développement",
        "",
        f"Produit par `make tune` le {dt.date.today().isoformat()} avec le modèle `{model.name}`, sur "
        f"`tests/nlu/dev.yml` ({len(examples)} questions, jamais utilisées pour l'entraînement ; les jeux de "
        "test ne servent pas au réglage).",
        "",
        f"Règle : le plus de bons faits donnés, avec au plus {MAX_CONFIDENTLY_WRONG:.0%} de réponses sûres et "
        f"fausses, au plus {MAX_OOS_FACT_RATE:.0%} de questions hors sujet recevant un fait et aucun formulaire "
        f"lancé sans demande sur ce jeu, et le moins possible sur les {len(train)} exemples d'entraînement prédits "
        "en validation croisée à 5 plis (ils contiennent bien plus de questions sur un droit tournées comme un "
        "souhait) ; à "
        "égalité, le plus de bons faits proposés quand l'assistant hésite, puis le plus d'autres intentions comprises (souhaits de demande, salutations, annulations…)."
        + ("" if constrained else " (aucune combinaison ne tient ces limites : la meilleure est montrée)"),
        "",
        f"**Choisi : answer_threshold {best.answer_threshold}, answer_ratio {best.answer_ratio}, "
        f"wish_threshold {best.wish_threshold}** (à reporter dans `config.yml`). {report.summary()}",
        "",
        f"Réglage actuel de `config.yml` : {current.answer_threshold}, {current.answer_ratio}, "
        f"{current.wish_threshold}. {now.summary()}",
        "",
        "| answer_threshold | answer_ratio | wish_threshold | bon fait | donné ou proposé | sûr et faux | hors sujet recevant un fait | formulaires sans demande | autres intentions | formulaires sans demande, entraînement hors pli |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for policy, r in results:
        same_answer = (policy.answer_threshold, policy.answer_ratio) == (best.answer_threshold, best.answer_ratio)
        if policy.wish_threshold != best.wish_threshold and not same_answer:
            continue
        mark = " **←**" if policy == best else ""
        lines.append(
            f"| {policy.answer_threshold} | {policy.answer_ratio} | {policy.wish_threshold} | {r.fact_accuracy:.1%} | "
            f"{r.fact_answered_or_offered:.1%} | {r.confidently_wrong_rate:.1%} | {r.oos_fact_rate:.1%} | "
            f"{r.forms_started_wrongly} | {r.other_accuracy:.1%} | {forms_out_of_fold[policy]}{mark} |"
        )
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(
        f"Chosen: answer_threshold {best.answer_threshold}, answer_ratio {best.answer_ratio}, "
        f"wish_threshold {best.wish_threshold}: {report.summary()}"
    )
    print(f"Report: {REPORT.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
