"""Schemathesis against the app's own OpenAPI document (``GET /api/openapi.json``), over loopback HTTP,
with function keys enforced as in Azure: every documented operation gets schema-driven valid and
invalid requests; replies must match the document (schemathesis' checks, including that a request
without the key is refused) and never be a server error.

Schemathesis' pytest integration (``from_fixture(...).parametrize()``) does not run on pytest 9 (it
sets ``Function._nodeid``, gone there), so this drives its Python API: one Hypothesis run per
operation and generation mode, each case sent with ``case.call_and_validate``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, CheckFunction, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from framework.emulator.host import EmulatorHost
from framework.emulator.server import BackgroundServer
from tests.fuzz.harness import BUDGETS, MODELS, REQUEST_SECONDS, STATS, FuzzApp

# float inputs beyond float32/float16 become ±inf, as numpy converts them (and warns)
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")

Operation = APIOperation[Any, Any, Any, Any]
#: Per model: the simple contract (POST, GET) and OIP metadata, ready, infer; plus three server routes.
OPERATIONS = 5 * len(MODELS) + 3


@pytest.fixture(scope="module")
def keyed(fuzz_app: FuzzApp) -> Iterator[tuple[str, str]]:
    """The fuzzed app behind a second server that checks function keys; (base URL, master key)."""
    host = EmulatorHost(fuzz_app.host.app_dir, enforce_keys=True)
    try:
        with BackgroundServer(host) as server:
            assert host.keys is not None
            yield server.url, host.keys.master
    finally:
        host.close()


#: Models whose JSON rows of a symbolic inner dimension must be equally long (not expressible in a schema).
RAGGED = {f"/{name}" for name, (inputs, _) in MODELS.items() if any(None in item.dims[1:] for item in inputs)}
#: Models whose inputs share a named dimension: their sizes must agree, which JSON Schema cannot say.
SHARED = {f"/{name}" for name, (inputs, _) in MODELS.items() if sum(None in item.dims for item in inputs) > 1}
#: Models that take only some sizes of a symbolic dimension (a CNN's height and width).
PICKY = {"/cnn"}


def _excluded(path: str) -> list[CheckFunction]:
    """Checks the document cannot satisfy: schemathesis' server-error check (replaced by one that allows
    the documented 501 for unimplemented extensions); accepting every schema-valid body where validity
    depends on more than JSON Schema says (an OIP tensor's data must match its shape and the model's
    signature; rows of a symbolic inner dimension must be equally long; inputs sharing a named
    dimension must agree on its size; an image model cannot take every height and width)."""
    if path.endswith("/infer") or path in RAGGED | SHARED | PICKY:
        return [not_a_server_error, positive_data_acceptance]
    return [not_a_server_error]


def _fuzz_operation(operation: Operation, key: str, mode: GenerationMode, examples: int) -> None:
    excluded = _excluded(operation.path)

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case[Operation]) -> None:
        response = case.call_and_validate(
            headers={"x-functions-key": key}, excluded_checks=excluded, timeout=REQUEST_SECONDS
        )
        STATS.examples[f"schemathesis ({mode.value})"] += 1
        STATS.statuses[response.status_code] += 1
        assert response.status_code < 500 or response.status_code == 501, response.text

    try:
        run()
    except Unsatisfiable:
        assert mode.is_negative, operation.label  # nothing to get wrong: no parameters, no body


def _run(schema: OpenApiSchema, key: str, mode: GenerationMode, examples: int) -> None:
    """Every operation, each failure reported (not only the first operation's)."""
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    assert len(operations) == OPERATIONS, [op.label for op in operations]
    failures = []
    for operation in operations:
        try:
            _fuzz_operation(operation, key, mode, examples)
        except (Exception, FailureGroup) as err:  # schemathesis' FailureGroup is a BaseExceptionGroup
            failures.append(f"{operation.label}, {mode.value} cases: {err}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("budget", BUDGETS)
def test_openapi_contract(keyed: tuple[str, str], budget: str, mode: GenerationMode) -> None:
    url, key = keyed
    schema = schemathesis.openapi.from_url(  # the document needs a key, like the models it describes
        f"{url}/api/openapi.json", timeout=REQUEST_SECONDS, headers={"x-functions-key": key}
    )
    _run(schema, key, mode, 8 if budget == "ci" else 60)
