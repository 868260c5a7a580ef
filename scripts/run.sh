#!/usr/bin/env bash
# Start the action server and the Rasa server on the embedded default (SQLite under var/),
# print where to talk to them, and stop both on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RASA_PORT=${RASA_PORT:-5005}
ACTION_PORT=${ACTION_PORT:-5055}
WEB_PORT=${WEB_PORT:-8080}
# Conversations, requests, secrets and logs: readable by this user only.
umask 077
mkdir -p var/logs && chmod 700 var var/logs
"$PY" -m storage.database

# Secrets made once per machine, readable by this user only (var/ is 0700).
secret() {  # secret NAME FILE: the variable if set, else the file's content (created if missing)
  if [ -z "${!1:-}" ]; then
    [ -s "$2" ] || (umask 077; "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$2")
    printf -v "$1" '%s' "$(cat "$2")"
  fi
  export "${1?}"
}
secret RASA_API_TOKEN var/rasa-api-token
secret ACTION_SERVER_TOKEN var/action-server-token
secret EMAIL_CODE_KEY var/email-code-key
# The model release in service (make promote / make rollback; the first make train on this machine).
MODEL=$("$PY" -m training.releases path)

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# Each server's output goes to a log file that rotates by size (LOG_MAX_BYTES, LOG_BACKUPS).
log_to() { "$PY" scripts/rotating_log.py "var/logs/$1"; }
# E-mail: the local SMTP sink (only when SMTP_URL is its loopback default) and the outbox sender.
SMTP_URL=${SMTP_URL:-smtp://127.0.0.1:8025}
export SMTP_URL
LOCAL_SINK=""
case "$SMTP_URL" in
  smtp://127.0.0.1:*|smtp://localhost:*)
    LOCAL_SINK=yes
    "$PY" -m mail.sink > >(log_to mail-sink.log) 2>&1 &
    pids+=($!) ;;
esac
"$PY" -m mail.sender > >(log_to mail-sender.log) 2>&1 &
pids+=($!)
"$PY" -m rasa_addons.action_server --port "$ACTION_PORT" > >(log_to actions.log) 2>&1 &
pids+=($!)
"$PY" -m webapp --port "$WEB_PORT" > >(log_to webapp.log) 2>&1 &
pids+=($!)
export SANIC_REQUEST_MAX_SIZE=${SANIC_REQUEST_MAX_SIZE:-1048576}  # every Rasa HTTP endpoint
export ACTION_SERVER_URL=${ACTION_SERVER_URL:-http://127.0.0.1:${ACTION_PORT}/webhook}
# The API token travels in RASA_API_TOKEN, not on the command line (the process list shows it).
"$PY" -m rasa_addons.rasa_server --model "$MODEL" --port "$RASA_PORT" --endpoints endpoints.yml \
  --credentials credentials.yml --enable-api \
  --cors ${CORS_ORIGINS:-http://localhost:8080} > >(log_to rasa.log) 2>&1 &
pids+=($!)

echo "Starting (logs in var/logs/) ..."
for _ in $(seq 1 180); do
  if curl -fs "http://127.0.0.1:${RASA_PORT}/" >/dev/null 2>&1 && curl -fs "http://127.0.0.1:${ACTION_PORT}/health" >/dev/null 2>&1 \
     && curl -fs "http://127.0.0.1:${WEB_PORT}/sante" >/dev/null 2>&1; then
    if [ -n "$LOCAL_SINK" ]; then
      MAIL_LANDS="aucun n'est envoyé : ils arrivent dans ${MAIL_DIR:-var/mail}/ (Maildir), visibles dans la console, page Courriels"
    else
      MAIL_LANDS="envoyés par le serveur SMTP de SMTP_URL"
    fi
    cat <<MSG

« Mes données de santé » est prêt.
  Canal REST      : POST http://localhost:${RASA_PORT}/webhooks/rest/webhook   {"sender": "moi", "message": "Bonjour"}
  Canal socket.io : http://localhost:${RASA_PORT}/socket.io
  API Rasa        : http://localhost:${RASA_PORT}/  (jeton dans var/rasa-api-token)
  Modèle          : $(basename "$MODEL")  (make model-status)
  Serveur d'actions : http://localhost:${ACTION_PORT}/health
  Site et widget  : http://localhost:${WEB_PORT}/
  Console         : http://localhost:${WEB_PORT}/console  (compte : make operator NAME=... ROLE=admin|dpo|réviseur|lecteur)
  Conversations   : var/conversations.db, demandes : var/app.db (SQLite)
  Métriques       : http://localhost:${RASA_PORT}/metrics, :${ACTION_PORT}/metrics, :${WEB_PORT}/metrics (depuis cette machine)
  E-mails         : ${MAIL_LANDS}
Ctrl-C pour arrêter.
MSG
    wait -n "${pids[@]}"
    echo "A server stopped; see var/logs/." >&2
    exit 1
  fi
  for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null || { echo "A server failed to start; see var/logs/." >&2; tail -20 var/logs/*.log >&2; exit 1; }
  done
  sleep 1
done
echo "Servers did not answer within 180 s; see var/logs/." >&2
exit 1
