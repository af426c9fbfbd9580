#!/usr/bin/env bash
# The conformance suite (tests/conformance) on other Pythons than .venv's, one virtualenv each:
# `bash scripts/conformance.sh 3.12 3.13` sets up .venv-3.12 and .venv-3.13 (funnx editable plus
# the suite's few test tools, pinned by constraints.txt; both at once, as installing is mostly
# waiting) and then runs the suite in each. On 3.13+ the suite drives Azure's own worker code
# (azure-functions-runtime) next to the emulator's own path.
# The interpreter is pythonX.Y on PATH, else the newest X.Y under `pyenv root`. A missing one is
# skipped with a note, or fails the run when FUNNX_REQUIRE_CONFORMANCE=1 (scripts/test.sh sets it).
# `--setup-only` first sets the virtualenvs up and stops (scripts/test.sh does that while the main
# suite runs, so the run afterwards finds them ready).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
setup_only=0
if [ "${1:-}" = --setup-only ]; then
  setup_only=1
  shift
fi

find_python() {
  local version=$1 root candidate
  root=$(pyenv root 2>/dev/null || true)
  for candidate in "python$version" $(printf '%s\n' "$root/versions/$version".*/bin/python | sort -V -r); do
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
  pin_pip "$venv"
  # shellcheck disable=SC2086 # SUITE_NEEDS is a list of package names
  pip_install "$venv" -e . $SUITE_NEEDS -c constraints.txt
  stamp >"$venv/.funnx-stamp"
}

# Every interpreter is found before any setup starts, so a missing one stops the run with nothing
# left installing in the background.
versions=()
pythons=()
for version in "$@"; do
  if ! python=$(find_python "$version"); then
    missing="Python $version not found (neither python$version on PATH nor under \`pyenv root\`)"
    if [ "${FUNNX_REQUIRE_CONFORMANCE:-}" = 1 ]; then
      echo "conformance: error: $missing; install it (pyenv install $version), or set FUNNX_REQUIRE_CONFORMANCE=0 to skip it" >&2
      exit 1
    fi
    echo "conformance: $missing; skipping its conformance run (FUNNX_REQUIRE_CONFORMANCE=1 makes this an error)"
    continue
  fi
  versions+=("$version")
  pythons+=("$python")
done
for i in "${!versions[@]}"; do
  venv=".venv-${versions[$i]}"
  echo "conformance: setting up $venv with $("${pythons[$i]}" --version)"
  in_background "setting up $venv" "$venv.log" setup_venv "${pythons[$i]}" "$venv"
done
wait_for_background
if [ "$setup_only" = 1 ]; then
  exit 0
fi
for version in "${versions[@]}"; do
  echo "conformance: $version"
  ".venv-$version/bin/python" -m pytest tests/conformance -q -p no:cacheprovider
done
