#!/usr/bin/env bash
# Chat with the assistant in the terminal (the action server runs in the background).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ACTION_PORT=${ACTION_PORT:-5055}
mkdir -p var/logs
# A secret for this session only: the action server answers only the Rasa shell below.
ACTION_SERVER_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(32))')
export ACTION_SERVER_TOKEN
"$PY" -m rasa_addons.action_server --port "$ACTION_PORT" > var/logs/actions-shell.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
export ACTION_SERVER_URL=${ACTION_SERVER_URL:-http://127.0.0.1:${ACTION_PORT}/webhook}
"$PY" -m rasa_addons.rasa_cli shell --model "$("$PY" -m training.model_store path)" --endpoints endpoints.yml
