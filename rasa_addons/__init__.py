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
    - a conversation that trips Rasa's circuit breaker recovers (rasa_addons.conversation_recovery);
    - a session ends after SESSION_MAX_MESSAGES messages, between two turns (rasa_addons.session_window)."""
    import rasa.core.actions.action as rasa_actions

    import settings
    from rasa_addons import conversation_recovery, session_window, speedups

    rasa_actions.DEFAULT_REQUEST_TIMEOUT = settings.action_timeout_seconds()
    speedups.apply()
    conversation_recovery.install()
    session_window.install()


def import_classifier_format() -> None:
    """Import skops.io, the file format of the question classifier, before Rasa and TensorFlow.

    On import, skops.io finds the module of each numpy and scipy function by scanning every module
    already loaded. After Rasa and TensorFlow (thousands of modules) that took about 17 s, paid by
    every Rasa server start, every training and every `rasa test`; first, it takes 3 s, most of it
    scikit-learn and scipy, which Rasa imports anyway. Call it before anything imports Rasa."""
    import skops.io  # noqa: F401


def hide_version() -> None:
    """Rasa answers `/` with « Hello from Rasa: <version> »: keep the greeting (health checks use
    `/`), drop the version, which only helps someone looking for a known flaw. Called by the
    launcher only: importing rasa.server loads Rasa's test tooling, which nothing else needs."""
    import rasa.server as rasa_server
    from sanic import response

    if getattr(rasa_server.create_app, "hides_version", False):
        return
    create_app = rasa_server.create_app

    def create_app_without_version(*args, **kwargs):
        app = create_app(*args, **kwargs)

        @app.on_response
        async def without_version(request, reply):
            if request.path == "/" and reply.body and reply.body.startswith(b"Hello from Rasa"):
                return response.text("Hello from Rasa")
            return None

        return app

    create_app_without_version.hides_version = True
    rasa_server.create_app = create_app_without_version
