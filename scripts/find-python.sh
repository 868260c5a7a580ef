#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter (Rasa 3.6 needs Python < 3.11).
# Order: $PYTHON, python3.10 on PATH, pyenv's 3.10.x versions, common locations.
set -u
is_py310() { "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; }

if [ -n "${PYTHON:-}" ]; then
  if is_py310 "$PYTHON"; then echo "$PYTHON"; exit 0; fi
  echo "PYTHON=$PYTHON is not a working Python 3.10." >&2; exit 1
fi
candidates=()
command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
if command -v pyenv >/dev/null 2>&1; then
  for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.[0-9]+)?$' | sort -t. -k3 -n -r); do
    candidates+=("$(pyenv prefix "$v" 2>/dev/null)/bin/python3.10")
  done
fi
for d in "$HOME"/.pyenv/versions/3.10*/bin /usr/local/bin /usr/bin; do
  [ -x "$d/python3.10" ] && candidates+=("$d/python3.10")
done
for c in "${candidates[@]}"; do
  if is_py310 "$c"; then echo "$c"; exit 0; fi
done
cat >&2 <<'MSG'
No Python 3.10 found. Rasa 3.6 needs Python 3.10. Either:
  - install it with pyenv:   pyenv install 3.10.13
  - or with your system:     apt-get install python3.10 python3.10-venv
  - or point to one:         make run PYTHON=/path/to/python3.10
MSG
exit 1
