"""`rasa run` with its API token taken from the environment: ``python -m rasa_addons.rasa_server …``.

Rasa 3.6 reads the HTTP API's token only from ``--auth-token`` on the command line, where
every local user sees it in the process list. This entry point takes the arguments of
``rasa run`` and adds the token from ``RASA_API_TOKEN`` inside the process: the process
list shows the command without it. It also serves ``GET /metrics`` on the same port
(metrics.rasa_server) and applies ``LOG_FORMAT`` (metrics.logs).

Without ``--model``, it serves the model release in service (training.releases), else the model
trained from the current data. With the HTTP API, ``POST /model`` (API token) loads the release in
service again without a restart, after `make promote` or `make rollback`.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys

logger = logging.getLogger("rasa_addons.rasa_server")  # also when run as __main__


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
        bound = inspect.signature(configure_app).bind(*args, **kwargs)
        bound.apply_defaults()
        if bound.arguments["enable_api"]:
            reload_route(app, bound.arguments["auth_token"], bound.arguments["endpoints"])
        logs.adopt_handlers()
        return app

    configure_app_with_metrics.serves_metrics = True
    rasa_run.configure_app = configure_app_with_metrics


def keep_log_level_and_say_when_ready() -> None:
    """Loading the model imports numpy.distutils, which sets the root logger to WARNING: every
    INFO record of the server was dropped from then on, Rasa's « up and running » included.
    Here the level from before the load is put back, then each server process (each Sanic
    worker) says it is ready, with its model."""
    import rasa.core.run as rasa_run

    if getattr(rasa_run.load_agent_on_start, "keeps_log_level", False):
        return
    load_agent_on_start = rasa_run.load_agent_on_start

    async def load_agent_keeping_log_level(*args, **kwargs):
        root = logging.getLogger()
        level = root.level
        agent = await load_agent_on_start(*args, **kwargs)
        root.setLevel(level)
        logger.info("Rasa server is up and running (process %s, model %s)", os.getpid(), agent.model_id)
        return agent

    load_agent_keeping_log_level.keeps_log_level = True
    rasa_run.load_agent_on_start = load_agent_keeping_log_level


def reload_route(app, auth_token, endpoints) -> None:
    """`POST /model` (API token): load the model release in service, as at start-up; answers its
    file name and Rasa model id (the `model_id` of every event's metadata from then on)."""
    import rasa.server
    from sanic import response

    async def reload_model(request):
        from training import releases

        try:
            model = releases.model_to_serve()
        except releases.ReleaseError as error:
            return response.json({"error": str(error)}, status=409)
        if not model.exists():
            return response.json({"error": f"Aucun modèle à servir : {model} est introuvable."}, status=409)
        agent = await rasa.server._load_agent(model_path=str(model), endpoints=endpoints)
        agent.lock_store = app.ctx.agent.lock_store
        app.ctx.agent = agent
        return response.json({"model": model.name, "model_id": agent.model_id})

    handler = rasa.server.requires_auth(app, auth_token)(reload_model)
    app.add_route(handler, "/model", methods=["POST"], name="mds_reload_model")


def model_arguments(arguments) -> list:
    """`--model <release in service>` unless the command line names a model; nothing (Rasa's
    default: the newest model in models/) when neither a release nor the model of the current
    data can be found (a container built without the training data, for instance)."""
    if any(a in ("-m", "--model") or a.startswith("--model=") for a in arguments):
        return []
    from training import releases

    try:
        model = releases.model_to_serve()
    except releases.ReleaseError as error:
        raise SystemExit(str(error)) from error
    except OSError:
        return []
    return ["--model", str(model)] if model.exists() else []


def main() -> None:
    import rasa_addons
    import settings
    from metrics import logs

    token = settings.rasa_api_token()
    arguments = sys.argv[1:]
    if "--auth-token" in arguments:
        raise SystemExit("Pass the API token in RASA_API_TOKEN, not on the command line.")
    arguments = [*arguments, *model_arguments(arguments)]
    sys.argv = [sys.argv[0], "run", *arguments] + (["--auth-token", token] if token else [])
    if logs.json_enabled():
        logs.configure()  # before Rasa is imported: its import-time warnings become records too
    rasa_addons.import_classifier_format()  # before Rasa too, and once the logs are set up
    rasa_addons.install()
    rasa_addons.hide_version()
    serve_metrics_and_adopt_logs()
    keep_log_level_and_say_when_ready()
    if logs.json_enabled():
        import rasa.utils.io

        # Rasa would put its colour handler on the root logger; LOG_FORMAT=json keeps ours.
        rasa.utils.io.configure_colored_logging = lambda *_args, **_kwargs: logs.adopt_handlers()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
