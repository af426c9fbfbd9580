#!/usr/bin/env bash
# The main job from README.md: set up, then scaffold a function for a bundled sample model, put the
# model in blob storage (Azurite), serve it with `funnx start` and print a prediction.
# `bash scripts/demo.sh --serve` keeps the server running afterwards (Ctrl+C to stop).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
