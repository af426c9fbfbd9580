#!/usr/bin/env bash
# Idempotent set-up for working on funnx: a virtualenv (.venv) with funnx installed in editable
# mode plus its dev tools (pinned by constraints.txt), and Azurite from npm when Node.js is present.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
echo "setup: installing funnx and its dev tools into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" -c constraints.txt

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  if [ ! -x node_modules/.bin/azurite-blob ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "setup: installing Azurite (pinned in package-lock.json)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
else
  echo "setup: Node.js/npm not found, so no Azurite: storage tests are skipped and the demo uses a local model file"
fi
