"""Conformance: the emulator's own path and Azure's worker code (azure-functions-runtime, 3.13+)
held to one table of expected answers.

Every test runs for each worker this Python has: ``direct`` (the emulator calls handlers itself,
the only path on 3.11/3.12) and, from 3.13, ``runtime`` (indexing, loading and invoking through
azure-functions-runtime). Both must give the answers recorded in the test modules.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from framework.emulator.host import RUNTIME_PYTHON, Worker
from tests.conformance.apps import generated_app

WORKERS: list[Worker] = ["direct", "runtime"] if sys.version_info >= RUNTIME_PYTHON else ["direct"]


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """funnx init + funnx new adder + the probe module, made once."""
    return generated_app(tmp_path_factory.mktemp("conformance") / "generated")


@pytest.fixture(scope="session")
def warmup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same, with funnx new --warmup (funnx then registers its warmup trigger)."""
    return generated_app(tmp_path_factory.mktemp("conformance") / "warmup", warmup=True)
