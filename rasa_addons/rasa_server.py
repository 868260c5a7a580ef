"""`rasa run` with its API token taken from the environment: ``python -m rasa_addons.rasa_server …``.

Rasa 3.6 reads the HTTP API's token only from ``--auth-token`` on the command line, where
every local user sees it in the process list. This entry point takes the arguments of
``rasa run`` and adds the token from ``RASA_API_TOKEN`` inside the process: the process
list shows the command without it.
"""

from __future__ import annotations

import sys


def main() -> None:
    import rasa_addons
    import settings

    token = settings.rasa_api_token()
    arguments = sys.argv[1:]
    if "--auth-token" in arguments:
        raise SystemExit("Pass the API token in RASA_API_TOKEN, not on the command line.")
    sys.argv = [sys.argv[0], "run", *arguments] + (["--auth-token", token] if token else [])
    rasa_addons.install()
    rasa_addons.hide_version()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
