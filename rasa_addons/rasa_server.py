"""`rasa run` with its API token taken from the environment: ``python -m rasa_addons.rasa_server …``.

Rasa 3.6 reads the HTTP API's token only from ``--auth-token`` on the command line, where
every local user sees it in the process list. This entry point takes the arguments of
``rasa run`` and adds the token from ``RASA_API_TOKEN`` inside the process: the process
list shows the command without it. It also serves ``GET /metrics`` on the same port
(metrics.rasa_server) and applies ``LOG_FORMAT`` (metrics.logs).
"""

from __future__ import annotations

import sys


def serve_metrics_and_adopt_logs() -> None:
    """`GET /metrics` on the server's own port (metrics.rasa_server), and Sanic's loggers brought
    under metrics.logs once Rasa and Sanic have set up theirs (with or without the HTTP API)."""
    import rasa.core.run as rasa_run

    from metrics import logs
    from metrics import rasa_server as rasa_metrics

    if getattr(rasa_run.configure_app, "serves_metrics", False):
        return
    configure_app = rasa_run.configure_app

    def configure_app_with_metrics(*args, **kwargs):
        app = configure_app(*args, **kwargs)
        rasa_metrics.add_route(app)
        logs.adopt_handlers()
        return app

    configure_app_with_metrics.serves_metrics = True
    rasa_run.configure_app = configure_app_with_metrics


def main() -> None:
    import rasa_addons
    import settings
    from metrics import logs

    token = settings.rasa_api_token()
    arguments = sys.argv[1:]
    if "--auth-token" in arguments:
        raise SystemExit("Pass the API token in RASA_API_TOKEN, not on the command line.")
    sys.argv = [sys.argv[0], "run", *arguments] + (["--auth-token", token] if token else [])
    if logs.json_enabled():
        logs.configure()  # before Rasa is imported: its import-time warnings become records too
    rasa_addons.install()
    rasa_addons.hide_version()
    serve_metrics_and_adopt_logs()
    if logs.json_enabled():
        import rasa.utils.io

        # Rasa would put its colour handler on the root logger; LOG_FORMAT=json keeps ours.
        rasa.utils.io.configure_colored_logging = lambda *_args, **_kwargs: logs.adopt_handlers()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
