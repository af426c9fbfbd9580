"""scripts/conformance.sh without the interpreter it is asked for: CI (FUNNX_REQUIRE_CONFORMANCE=1, set
by scripts/test.sh) fails with one line saying what to install; a run by hand skips it with a note."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "conformance.sh"
MISSING = "3.99"  # a Python that exists nowhere


def conformance(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FUNNX_REQUIRE_")}
    return subprocess.run(
        ["bash", str(SCRIPT), "--setup-only", MISSING],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_missing_interpreter_fails_the_run_when_conformance_is_required() -> None:
    run = conformance(FUNNX_REQUIRE_CONFORMANCE="1")
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"conformance: error: Python {MISSING} not found (neither python{MISSING} on PATH nor under `pyenv root`); "
        f"install it (pyenv install {MISSING}), or set FUNNX_REQUIRE_CONFORMANCE=0 to skip it"
    ]


def test_a_missing_interpreter_is_skipped_with_a_note_otherwise() -> None:
    """Whatever the Azurite switch says: it is about Azurite (it once decided this too)."""
    for env in ({}, {"FUNNX_REQUIRE_CONFORMANCE": "0"}, {"FUNNX_REQUIRE_AZURITE": "1"}):
        run = conformance(**env)
        assert run.returncode == 0, run.stderr
        assert run.stderr == ""
        assert f"Python {MISSING} not found" in run.stdout and "skipping its conformance run" in run.stdout
