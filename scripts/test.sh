#!/usr/bin/env bash
# The test command from README.md (and what CI runs): set up, lint, type-check, run every test
# (tests/conformance also on Python 3.12 and 3.13, see scripts/conformance.sh).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k storage -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# With Node.js present, a missing or broken Azurite fails the run instead of skipping storage tests.
if command -v node >/dev/null 2>&1; then
  export FUNNX_REQUIRE_AZURITE=1
fi
# Where setup.sh can install chromium (root with apt-get), a missing browser fails the browser test.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  export FUNNX_REQUIRE_BROWSER=1
fi
# The full run (no pytest arguments, as CI runs it) also holds the emulator to the same answers on
# the other supported Pythons (scripts/conformance.sh; on 3.13 through Azure's own worker code,
# azure-functions-runtime). Their virtualenvs are set up meanwhile, in the background. A missing
# interpreter fails that run, so CI cannot pass without them (FUNNX_REQUIRE_CONFORMANCE=0 skips it).
conformance_setup=""
if [ "$#" -eq 0 ]; then
  export FUNNX_REQUIRE_CONFORMANCE=${FUNNX_REQUIRE_CONFORMANCE:-1}
  bash scripts/conformance.sh --setup-only 3.12 3.13 >.setup-conformance.log 2>&1 &
  conformance_setup=$!
  trap 'kill "$conformance_setup" 2>/dev/null || true' EXIT
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# Tests run on worker processes (pytest-xdist): most of a test's time is waiting on Azurite, child
# processes and sockets, so more workers than cores still shortens the run. FUNNX_TEST_WORKERS=0 runs
# them in this process.
.venv/bin/python -m pytest -n "${FUNNX_TEST_WORKERS:-3}" "$@"
if [ -n "$conformance_setup" ]; then
  if ! wait "$conformance_setup"; then
    cat .setup-conformance.log >&2
    exit 1
  fi
  rm -f .setup-conformance.log
  bash scripts/conformance.sh 3.12 3.13
fi
