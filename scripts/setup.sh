#!/usr/bin/env bash
# Idempotent set-up for working on funnx: a virtualenv (.venv) with funnx installed in editable
# mode plus its dev tools (pinned by constraints.txt), and Azurite from npm when Node.js is present.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
# funnx supports the Pythons Azure Functions runs: 3.11 and newer (3.10's support ended in October 2026).
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: error: $("$python" --version 2>&1 || echo "$python") is too old; funnx needs Python 3.11 or newer (Azure Functions support for 3.10 ended in October 2026): set PYTHON=python3.11 (or 3.12, 3.13)" >&2
  exit 1
fi
# The slow installs below are independent (mostly download and unpack), so they run side by side
# (scripts/lib.sh); each one's output goes to a log that is shown only if it fails.
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

install_checkov() {
  "$python" -m venv --clear .venv-checkov
  pip_install .venv-checkov --no-compile --no-deps -r scripts/checkov-requirements.txt
  .venv-checkov/bin/python -m pip check --disable-pip-version-check >/dev/null
  touch .venv-checkov/bin/checkov
}

install_chromium() {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

# checkov (static analysis of the generated Bicep, tests/e2e/test_bicep.py) pins dozens of packages
# that clash with the dev tools, so it gets a virtualenv of its own, refreshed when its pins change.
# The file is a complete pip freeze, so --no-deps skips the resolver; --no-compile skips byte-compiling
# ~100 packages (a run compiles what it imports). Both together halve the install (~60 s to ~28 s).
if [ ! -x .venv-checkov/bin/checkov ] || [ scripts/checkov-requirements.txt -nt .venv-checkov/bin/checkov ]; then
  echo "setup: installing checkov into .venv-checkov"
  in_background "installing checkov" .setup-checkov.log install_checkov
fi

# Debian's chromium for the API page's browser test (tests/browser), which Playwright drives with no
# browser download of its own. Installed where apt-get can (root on Debian: CI); elsewhere that test skips.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing Debian's chromium for the browser test (~40 s)"
  in_background "installing chromium" .setup-chromium.log install_chromium
fi

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  if [ ! -x node_modules/.bin/azurite-blob ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "setup: installing Azurite (pinned in package-lock.json)"
    in_background "installing azurite" .setup-azurite.log npm ci --no-audit --no-fund --loglevel=error
  fi
else
  echo "setup: Node.js/npm not found, so no Azurite: storage tests are skipped and the demo uses a local model file"
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
echo "setup: installing funnx and its dev tools into .venv"
pin_pip .venv
pip_install .venv -e ".[dev]" -c constraints.txt

# PyTorch, for the tests of `funnx convert` on PyTorch modules (they skip without it). Only the CPU
# build that this kind of machine keeps on disk (~30 s, 750 MB): a "+cpu" version is never on PyPI,
# so elsewhere this fails in seconds instead of downloading a multi-GB CUDA build.
if ! .venv/bin/python -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)'; then
  if pip_install .venv "torch==2.13.0+cpu" -c constraints.txt >/dev/null 2>&1; then
    echo "setup: installed torch 2.13.0 (CPU build) for the PyTorch convert tests"
  else
    echo "setup: torch 2.13.0 (CPU build) is not available offline here: the PyTorch convert tests will skip"
  fi
fi

wait_for_background
