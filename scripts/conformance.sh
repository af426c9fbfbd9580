#!/usr/bin/env bash
# The conformance suite (tests/conformance) on other Pythons than .venv's, one virtualenv each:
# `bash scripts/conformance.sh 3.12 3.13` sets up .venv-3.12 and .venv-3.13 (funnx editable plus
# the suite's few test tools, pinned by constraints.txt; both at once, as installing is mostly
# waiting) and then runs the suite in each. On 3.13+ the suite drives Azure's own worker code
# (azure-functions-runtime) next to the emulator's own path.
# The interpreter is pythonX.Y on PATH, else the newest X.Y under `pyenv root`. A missing one is
# skipped with a note, or fails the run when FUNNX_REQUIRE_AZURITE=1 (set by scripts/test.sh in CI).
# `--setup-only` first sets the virtualenvs up and stops (scripts/test.sh does that while the main
# suite runs, so the run afterwards finds them ready).
set -euo pipefail
cd "$(dirname "$0")/.."
setup_only=0
if [ "${1:-}" = --setup-only ]; then
  setup_only=1
  shift
fi

find_python() {
  local version=$1 root candidate
  root=$(pyenv root 2>/dev/null || true)
  for candidate in "python$version" $(ls -d "$root/versions/$version".*/bin/python 2>/dev/null | sort -V -r); do
    if "$candidate" -c "import sys; sys.exit('%d.%d' % sys.version_info[:2] != '$version')" >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

# What tests/conformance needs besides funnx (versions pinned by constraints.txt, as for .venv).
SUITE_NEEDS="pytest pytest-timeout onnx"

# Reinstall only when what decides the install changed (a no-op pip run still takes ~15 s).
stamp() { { cat pyproject.toml constraints.txt hatch_build.py; echo "$SUITE_NEEDS"; } | sha256sum | cut -d' ' -f1; }

setup_venv() {
  local python=$1 venv=$2
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
  fi
  if [ "$(cat "$venv/.funnx-stamp" 2>/dev/null)" = "$(stamp)" ]; then
    return 0
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pip==26.3"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e . $SUITE_NEEDS -c constraints.txt
  stamp >"$venv/.funnx-stamp"
}

venvs=()
pids=()
for version in "$@"; do
  if ! python=$(find_python "$version"); then
    if [ "${FUNNX_REQUIRE_AZURITE:-}" = 1 ]; then
      echo "conformance: error: Python $version not found (neither python$version on PATH nor under \`pyenv root\`); install it, e.g. pyenv install $version" >&2
      exit 1
    fi
    echo "conformance: Python $version not found; skipping its conformance run"
    continue
  fi
  echo "conformance: setting up .venv-$version with $("$python" --version)"
  setup_venv "$python" ".venv-$version" >".venv-$version.log" 2>&1 &
  venvs+=(".venv-$version")
  pids+=($!)
done
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    cat "${venvs[$i]}.log" >&2
    echo "conformance: error: setting up ${venvs[$i]} failed (log above)" >&2
    exit 1
  fi
  rm -f "${venvs[$i]}.log"
done
if [ "$setup_only" = 1 ]; then
  exit 0
fi
for venv in "${venvs[@]}"; do
  echo "conformance: ${venv#.venv-}"
  "$venv/bin/python" -m pytest tests/conformance -q -p no:cacheprovider
done
