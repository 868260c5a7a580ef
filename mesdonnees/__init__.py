"""Shared code of the « Mes données de santé » assistant (facts, privacy, storage)."""
