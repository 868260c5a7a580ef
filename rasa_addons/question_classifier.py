"""Understanding a citizen's message: one classifier over every label, and an explicit decision.

`QuestionClassifier` is the NLU pipeline's classifier (config.yml). It replaces DIET and the
ResponseSelector with one model over flat labels — each fact (`faq/<id>`), each off-topic kind
(`out_of_scope/<kind>`), each request wish (`request_erasure`…) and each other intent — made of
TF-IDF word (1–2) and character (2–5, within words) n-grams, accents and case removed, and a
linear classifier (`classifier` in config.yml, one of CLASSIFIERS: calibrated linear SVMs or a
logistic regression). The designs are compared on the development set and in cross-validation
(`make compare-classifiers`, docs/classifier-selection.md); the project's beats the previous
Rasa pipeline and a plain TF-IDF baseline (docs/benchmarks.md), and needs no TensorFlow at run
time.

Then `decide()` turns the ranking into what the assistant does, so that it is never more sure
than the model is:
- a fact is answered only when it is clearly ahead (confidence ≥ `answer_threshold` and at least
  `answer_ratio` times the next label);
- a request form starts only on a clear wish (`wish_threshold`, same ratio);
- otherwise, when some facts or wishes are plausible (≥ `candidate_floor`), the message becomes
  `nlu_fallback` with `candidates` (at most `max_candidates`, best first): the assistant asks
  « Vouliez-vous dire… ? » (SPEC §3.2, custom.fallback = "ambiguous");
- small talk, cancel, yes/no and off-topic are taken from `other_threshold` on, as before.

The parse data carries `label_ranking` (the ten best labels) for evaluation and the console.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from gdpr.kinds import is_wish

logger = logging.getLogger(__name__)

FACT_PREFIX = "faq/"
RETRIEVAL_INTENTS = ("faq", "out_of_scope")
FALLBACK_INTENT = "nlu_fallback"
RANKING_LENGTH = 10
# Button payloads and form answers are never classified by the model (Rasa parses /intent{…}).
UNTRAINED_INTENTS = ("ask_fact",)


def is_fact(label: str) -> bool:
    return label.startswith(FACT_PREFIX)


@dataclass(frozen=True)
class DecisionPolicy:
    answer_threshold: float = 0.3
    answer_ratio: float = 2.0
    wish_threshold: float = 0.6
    other_threshold: float = 0.2
    candidate_floor: float = 0.1
    max_candidates: int = 3

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "DecisionPolicy":
        return cls(**{k: config[k] for k in cls.__dataclass_fields__ if k in config})


@dataclass(frozen=True)
class Decision:
    label: str  # what the assistant acts on: a label, or nlu_fallback
    confidence: float
    candidates: Tuple[str, ...] = field(default=())  # labels offered when unsure, best first

    @property
    def intent(self) -> str:
        return self.label.split("/", 1)[0]

    @property
    def fact_id(self) -> Optional[str]:
        return self.label[len(FACT_PREFIX) :] if is_fact(self.label) else None


def decide(ranking: Sequence[Tuple[str, float]], policy: DecisionPolicy = DecisionPolicy()) -> Decision:
    """What to do with a message, from its labels ranked by probability (best first)."""
    if not ranking:
        return Decision(FALLBACK_INTENT, 0.0)
    best, p1 = ranking[0]
    p2 = ranking[1][1] if len(ranking) > 1 else 0.0
    clearly_ahead = p1 >= policy.answer_ratio * p2
    if is_fact(best) and p1 >= policy.answer_threshold and clearly_ahead:
        return Decision(best, p1)
    if is_wish(best) and p1 >= policy.wish_threshold and clearly_ahead:
        return Decision(best, p1)
    candidates = tuple(
        label
        for label, p in ranking[: policy.max_candidates]
        if (is_fact(label) or is_wish(label)) and p >= policy.candidate_floor
    )
    if not is_fact(best) and not is_wish(best) and p1 >= policy.other_threshold and (clearly_ahead or not candidates):
        return Decision(best, p1)
    return Decision(FALLBACK_INTENT, p1, candidates)


def training_label(message: Message) -> Optional[str]:
    """faq/<id> or out_of_scope/<kind> for retrieval intents, the intent otherwise."""
    return message.get(INTENT_RESPONSE_KEY) or message.get(INTENT)


CLASSIFIERS = ("logistic_regression", "calibrated_svm")
CALIBRATION_FOLDS = 3


def build_model(regularisation: float = 50.0, classifier: str = "logistic_regression") -> Any:
    """TF-IDF word and character n-grams, then one of CLASSIFIERS with inverse regularisation C.

    - ``logistic_regression``: probabilities from the regression itself;
    - ``calibrated_svm``: three linear SVMs, each trained on two thirds of the examples with a
      sigmoid fitted on the third left out to turn its scores into probabilities; a message's
      probabilities are the mean of the three.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode")),
            (
                "chars",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, strip_accents="unicode"),
            ),
        ]
    )
    if classifier == "logistic_regression":
        from sklearn.linear_model import LogisticRegression

        estimator = LogisticRegression(C=regularisation, max_iter=5000)
    elif classifier == "calibrated_svm":
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import LinearSVC

        estimator = CalibratedClassifierCV(
            LinearSVC(C=regularisation, max_iter=10000, random_state=0),
            method="sigmoid",
            cv=CALIBRATION_FOLDS,
            ensemble=True,
        )
    else:
        raise ValueError(f"unknown classifier {classifier!r}: one of {', '.join(CLASSIFIERS)}")
    return Pipeline([("features", features), ("classifier", estimator)])


def trained_model(
    texts: Sequence[str], labels: Sequence[str], regularisation: float = 50.0, classifier: str = "logistic_regression"
) -> Any:
    """`build_model` fitted on these examples.

    The calibrated SVMs hold out a third of each label's examples: a label with fewer than
    CALIBRATION_FOLDS examples (a new fact being written, a reduced data set) has its examples
    repeated up to that number rather than failing the whole training."""
    from collections import Counter

    import numpy as np

    texts, labels = list(texts), list(labels)
    if classifier == "calibrated_svm":
        counts = Counter(labels)
        for label, count in counts.items():
            if count < CALIBRATION_FOLDS:
                own = [t for t, lab in zip(texts, labels, strict=True) if lab == label]
                extra = [own[i % count] for i in range(CALIBRATION_FOLDS - count)]
                texts += extra
                labels += [label] * len(extra)
    # As an array: CalibratedClassifierCV counts each label's examples with `labels == label`.
    return build_model(regularisation, classifier).fit(texts, np.asarray(labels, dtype=object))


def linear_models(model: Any) -> List[Any]:
    classifier = model.steps[-1][1]
    calibrated = getattr(classifier, "calibrated_classifiers_", None)
    if calibrated is None:
        return [classifier]
    # scikit-learn 1.1 names the calibrated model `base_estimator`, later versions `estimator`.
    return [getattr(c, "estimator", None) or c.base_estimator for c in calibrated]


def without_copy_per_message(model: Any) -> None:
    """Store the linear weights column-major (idempotent; predictions are unchanged).

    scikit-learn scores a message as ``features @ coef_.T``; with the row-major ``coef_`` it
    trains, SciPy first copies the whole transposed matrix (labels × 41,000 n-grams, 21 MB) to
    multiply it by a sparse row: 9 ms of the 11 ms a message took to classify, and a third of
    the Rasa server's time under load (`make bench`, « Où part le temps »). Column-major, the
    transpose is already contiguous and nothing is copied (1.7 ms).
    """
    import numpy as np

    for linear in linear_models(model):
        if not linear.coef_.flags.f_contiguous:
            linear.coef_ = np.asfortranarray(linear.coef_)


def rank_labels(model: Any, texts: List[str]) -> List[List[Tuple[str, float]]]:
    """Each text's best labels (at most RANKING_LENGTH), most probable first."""
    without_copy_per_message(model)
    labels = model.classes_
    result = []
    for row in model.predict_proba(texts):
        order = row.argsort()[::-1][:RANKING_LENGTH]
        result.append([(str(labels[i]), float(row[i])) for i in order])
    return result


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class QuestionClassifier(IntentClassifier, GraphComponent):
    """Classify a message among facts, off-topic kinds, wishes and other intents; then decide."""

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "skops"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"classifier": "logistic_regression", "regularisation": 50.0, **DecisionPolicy().__dict__}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self.config = {**self.get_default_config(), **config}
        self.policy = DecisionPolicy.from_config(self.config)
        self.model: Any = None
        self._model_storage = model_storage
        self._resource = resource

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "QuestionClassifier":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT) and m.get(INTENT) not in UNTRAINED_INTENTS]
        self.model = trained_model(
            [m.get(TEXT) for m in examples],
            [training_label(m) for m in examples],
            self.config["regularisation"],
            self.config["classifier"],
        )
        self.persist()
        return self._resource

    def persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as directory:
            sio.dump(self.model, directory / "question_classifier.skops")

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "QuestionClassifier":
        import skops.io as sio

        component = cls(config, model_storage, resource)
        with model_storage.read_from(resource) as directory:
            path = directory / "question_classifier.skops"
            # Only the types this module writes (scikit-learn pipeline, vectorisers, regression, sparse arrays).
            types = sio.get_untrusted_types(file=path)
            unexpected = [t for t in types if not t.startswith(("sklearn.", "numpy.", "scipy.sparse."))]
            if unexpected:
                raise ValueError(f"unexpected types in the classifier file: {unexpected}")
            component.model = sio.load(path, trusted=types)
        return component

    def ranking(self, texts: List[str]) -> List[List[Tuple[str, float]]]:
        return rank_labels(self.model, texts)

    def process(self, messages: List[Message]) -> List[Message]:
        if self.model is None:
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        for message, ranked in zip(messages, self.ranking(texts), strict=True):
            if not message.get(TEXT):
                continue
            decision = decide(ranked, self.policy)
            self._set_output(message, decision, ranked)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    @staticmethod
    def _set_output(message: Message, decision: Decision, ranked: List[Tuple[str, float]]) -> None:
        intent_scores: Dict[str, float] = {}
        for label, p in ranked:
            name = label.split("/", 1)[0]
            intent_scores[name] = intent_scores.get(name, 0.0) + p
        intent_ranking = [{"name": n, "confidence": c} for n, c in sorted(intent_scores.items(), key=lambda x: -x[1])]
        message.set(INTENT, {"name": decision.intent, "confidence": decision.confidence}, add_to_output=True)
        message.set("intent_ranking", intent_ranking, add_to_output=True)
        message.set("label_ranking", [{"name": n, "confidence": c} for n, c in ranked], add_to_output=True)
        message.set("candidates", list(decision.candidates), add_to_output=True)
        selectors: Dict[str, Any] = {"all_retrieval_intents": list(RETRIEVAL_INTENTS)}
        if decision.intent in RETRIEVAL_INTENTS:
            selectors[decision.intent] = {
                "response": {
                    "intent_response_key": decision.label,
                    "confidence": decision.confidence,
                    "utter_action": f"utter_{decision.label}",
                    "responses": None,
                },
                "ranking": [
                    {"intent_response_key": n, "confidence": c}
                    for n, c in ranked
                    if n.startswith(decision.intent + "/")
                ],
            }
        message.set("response_selector", selectors, add_to_output=True)
