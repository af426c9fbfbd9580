# shellcheck shell=bash
# Shared by scripts/setup.sh and scripts/conformance.sh, which source it from the repository root:
# the pip every funnx virtualenv gets, and slow installs run side by side in the background.
# Messages start with the sourcing script's name (`setup: ...`, `conformance: ...`).

script_name=$(basename "$0" .sh)

# pip 25+ checks Requires-Python against --python-version (the funnx package targets other Pythons).
PIP_VERSION=26.3

# pip_install VENV ARGS...: pip install into virtualenv VENV, quietly.
pip_install() {
  local venv=$1
  shift
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
}

# pin_pip VENV: the pip funnx is set up with, in virtualenv VENV.
pin_pip() {
  pip_install "$1" "pip==$PIP_VERSION"
}

# in_background WHAT LOG COMMAND...: start COMMAND (a function or a program) in the background, its
# output to LOG; WHAT says what it does ("installing checkov"). wait_for_background collects it.
background_pids=()
background_what=()
background_logs=()
in_background() {
  local what=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  background_pids+=($!)
  background_what+=("$what")
  background_logs+=("$log")
}

# wait_for_background: wait for every job in_background started; a job's log is deleted when it
# succeeds and shown when it fails. Fails (status 1) when any job did, after all have finished.
wait_for_background() {
  local i failed=0
  for i in "${!background_pids[@]}"; do
    if wait "${background_pids[$i]}"; then
      rm -f "${background_logs[$i]}"
    else
      cat "${background_logs[$i]}" >&2
      echo "$script_name: error: ${background_what[$i]} failed (log above)" >&2
      failed=1
    fi
  done
  background_pids=()
  background_what=()
  background_logs=()
  return "$failed"
}
