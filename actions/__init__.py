"""Custom actions of the « Mes données de santé » assistant (rasa_sdk action server)."""
