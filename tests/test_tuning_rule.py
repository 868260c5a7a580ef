"""How `make tune` and `make compare-classifiers` choose (training.thresholds, training.model_selection)."""

from __future__ import annotations

from dataclasses import replace

from rasa_addons.question_classifier import DecisionPolicy
from training.evaluation import Example, Report
from training.model_selection import Design, Outcome, chosen
from training.thresholds import choose_policy, forms_started_out_of_fold

BASE = DecisionPolicy(answer_threshold=0.3, answer_ratio=2.0, wish_threshold=0.6)


def report(right: int = 8, wishes_understood: int = 5, forms_wrong: int = 0, off_topic_given_fact: int = 0) -> Report:
    return Report(
        fact_total=10,
        fact_correct=right,
        fact_declined=10 - right,
        other_total=6,
        other_correct=wishes_understood,
        oos_total=50,
        oos_given_fact=off_topic_given_fact,
        forms_started_wrongly=forms_wrong,
    )


def test_a_lower_wish_threshold_wins_only_if_it_starts_no_form_out_of_fold():
    eager, careful = BASE, replace(BASE, wish_threshold=0.8)
    results = [(eager, report(wishes_understood=6)), (careful, report(wishes_understood=4))]
    # On dev alone, the eager threshold understands more wishes and starts nothing wrongly.
    assert choose_policy(results)[0][0] == eager
    # On the training data predicted out of fold, it starts forms for questions about a right.
    assert choose_policy(results, {eager: 3, careful: 0})[0][0] == careful
    # When every policy starts some form out of fold, the one that starts the fewest.
    assert choose_policy(results, {eager: 3, careful: 1})[0][0] == careful
    assert choose_policy(results, {eager: 1, careful: 1})[0][0] == eager


def test_a_form_started_wrongly_on_dev_is_never_accepted_for_more_right_facts():
    bold, safe = BASE, replace(BASE, answer_threshold=0.4)
    chosen_policy = choose_policy([(bold, report(right=9, forms_wrong=1)), (safe, report(right=7))])[0][0]
    assert chosen_policy == safe


def test_forms_out_of_fold_are_counted_from_the_rankings_with_each_policy():
    examples = [
        Example("puis-je obtenir une copie de mes données ?", "faq/right_access"),
        Example("envoyez-moi mes données", "request_access"),
    ]
    ranked = {
        examples[0].text: [("request_access", 0.7), ("faq/right_access", 0.2)],
        examples[1].text: [("request_access", 0.9), ("faq/right_access", 0.05)],
    }
    counts = forms_started_out_of_fold(examples, ranked, [BASE, replace(BASE, wish_threshold=0.8)])
    assert list(counts.values()) == [1, 0]


def outcome(name: str, within_limits: bool, cv_forms: int, dev_right: int) -> Outcome:
    return Outcome(
        Design(name, "logistic_regression", 1.0),
        BASE,
        within_limits,
        report(right=dev_right),
        report(forms_wrong=cv_forms),
        1.0,
    )


def test_the_classifier_chosen_holds_the_limits_then_starts_fewest_forms_then_answers_most():
    outside = outcome("hors limites", within_limits=False, cv_forms=0, dev_right=10)
    forms = outcome("formulaires", within_limits=True, cv_forms=2, dev_right=9)
    careful = outcome("prudent", within_limits=True, cv_forms=0, dev_right=7)
    better = outcome("meilleur", within_limits=True, cv_forms=0, dev_right=8)
    assert chosen([outside, forms, careful, better]) is better
    assert chosen([outside, forms]) is forms
    assert chosen([outside]) is outside
