"""Facts catalogue and NLU tooling: the catalogue, the generated training data, evaluation,
threshold tuning and the trained-model cache."""
