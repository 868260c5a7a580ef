"""Everything the Rasa server loads from endpoints.yml and credentials.yml (channels, message
guard, masking tracker store, lock store and event broker, conversation recovery, speed fixes),
and the two launchers (`python -m rasa_addons.rasa_server`, `python -m rasa_addons.action_server`).

Importing a module here changes nothing in Rasa. The changes this project makes to Rasa's own
behaviour are applied by `install()`, called once by the launcher and by the classes Rasa
builds from the configuration (channels, tracker store), before any message is handled.
"""

from __future__ import annotations


def install() -> None:
    """Apply the project's changes to Rasa, once (each step is idempotent):
    - a citizen waits at most ACTION_TIMEOUT_SECONDS for the action server (Rasa: 5 minutes);
    - the measured speed fixes (rasa_addons.speedups, off with RASA_SPEEDUPS=0);
    - a conversation that trips Rasa's circuit breaker recovers (rasa_addons.conversation_recovery)."""
    import rasa.core.actions.action as rasa_actions

    import settings
    from rasa_addons import conversation_recovery, speedups

    rasa_actions.DEFAULT_REQUEST_TIMEOUT = settings.action_timeout_seconds()
    speedups.apply()
    conversation_recovery.install()
