"""The NLU's decision (rasa_addons.question_classifier.decide): answer, start, ask, or decline."""

from __future__ import annotations

import pytest

from rasa_addons.question_classifier import (
    CLASSIFIERS,
    FALLBACK_INTENT,
    DecisionPolicy,
    build_model,
    decide,
    linear_models,
    rank_labels,
    trained_model,
)

POLICY = DecisionPolicy(
    answer_threshold=0.3,
    answer_ratio=2.0,
    wish_threshold=0.6,
    other_threshold=0.2,
    candidate_floor=0.1,
    max_candidates=3,
)


def test_a_fact_clearly_ahead_is_answered():
    decision = decide([("faq/consent", 0.62), ("faq/right_objection", 0.2)], POLICY)
    assert decision.intent == "faq" and decision.fact_id == "consent" and decision.candidates == ()


def test_two_close_facts_are_offered_in_order_never_answered():
    decision = decide([("faq/snds_presentation", 0.41), ("faq/hdh_presentation", 0.35), ("greet", 0.1)], POLICY)
    assert decision.label == FALLBACK_INTENT and decision.fact_id is None
    assert decision.candidates == ("faq/snds_presentation", "faq/hdh_presentation")


def test_a_wish_starts_a_form_only_when_clear():
    assert decide([("request_erasure", 0.9), ("faq/right_erasure", 0.05)], POLICY).label == "request_erasure"
    unsure = decide([("request_erasure", 0.5), ("faq/right_erasure", 0.2)], POLICY)
    assert unsure.label == FALLBACK_INTENT and unsure.candidates == ("request_erasure", "faq/right_erasure")


def test_off_topic_and_small_talk_are_taken_as_before():
    assert decide([("out_of_scope/chitchat", 0.7), ("faq/cloud_act", 0.05)], POLICY).intent == "out_of_scope"
    assert decide([("cancel", 0.25), ("inform", 0.2)], POLICY).label == "cancel"


def test_off_topic_close_to_a_fact_asks_instead_of_guessing():
    decision = decide([("out_of_scope/chitchat", 0.4), ("faq/response_deadline", 0.27)], POLICY)
    assert decision.label == FALLBACK_INTENT and decision.candidates == ("faq/response_deadline",)


def test_nothing_plausible_is_declined_without_candidates():
    decision = decide([("faq/consent", 0.15), ("faq/cloud_act", 0.12), ("greet", 0.11)], POLICY)
    assert decision.label == FALLBACK_INTENT
    assert decision.candidates == ("faq/consent", "faq/cloud_act")
    assert decide([("faq/consent", 0.08), ("greet", 0.07)], POLICY).candidates == ()
    assert decide([], POLICY).label == FALLBACK_INTENT


def test_a_status_question_is_not_a_wish_to_start_a_form():
    decision = decide([("request_status", 0.35), ("faq/response_deadline", 0.3)], POLICY)
    assert "request_status" not in decision.candidates


@pytest.mark.parametrize("classifier", CLASSIFIERS)
def test_classifying_without_the_weight_copy_ranks_exactly_as_scikit_learn(classifier):
    """rank_labels stores the weights column-major once (rasa_addons.question_classifier:
    without_copy_per_message) and ranks every message exactly as the trained model did."""
    import numpy as np

    texts = ["qu'est-ce que le snds", "le snds garde mes données combien de temps", "bonjour", "supprimer mes données"]
    labels = ["faq/snds_presentation", "faq/data_retention", "greet", "request_erasure"]
    model = trained_model(texts * 3, labels * 3, classifier=classifier)
    questions = ["c koi le SNDS ?", "combien de temps", "salut", "je veux supprimer", "rien à voir"]
    expected = model.predict_proba(questions)
    linear = linear_models(model)
    # The regression trains its weights row-major; liblinear (the SVM) already column-major.
    assert linear and all(m.coef_.flags.f_contiguous == (classifier == "calibrated_svm") for m in linear)
    ranked = rank_labels(model, questions)
    assert all(m.coef_.flags.f_contiguous for m in linear_models(model))
    for row, ranking in zip(expected, ranked, strict=True):
        order = row.argsort()[::-1]
        assert [label for label, _ in ranking] == [str(model.classes_[i]) for i in order]
        assert np.allclose([p for _, p in ranking], row[order], rtol=0, atol=1e-12)
    assert rank_labels(model, questions) == ranked
    assert [label for label, _ in ranked[3][:1]] == ["request_erasure"]


def test_an_unknown_classifier_is_refused_by_name():
    with pytest.raises(ValueError, match="random_forest"):
        build_model(classifier="random_forest")


def test_a_label_with_fewer_examples_than_calibration_folds_still_trains():
    """A new fact with one or two examples must not break the calibrated SVMs' training."""
    texts = ["qu'est-ce que le snds", "le snds c'est quoi", "c koi le snds", "bonjour", "salut", "bonsoir"]
    labels = ["faq/snds_presentation"] * 3 + ["greet"] * 3
    model = trained_model(
        [*texts, "combien de temps sont gardées mes données"], [*labels, "faq/data_retention"], 2.0, "calibrated_svm"
    )
    assert set(model.classes_) == {"faq/snds_presentation", "greet", "faq/data_retention"}
    assert rank_labels(model, ["c koi le snds"])[0][0][0] == "faq/snds_presentation"
