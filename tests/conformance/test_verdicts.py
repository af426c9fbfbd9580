"""Which apps Azure loads: every worker must give the recorded verdict, word for word.

The messages quote Azure: the worker's FunctionLoadError text for annotation and parameter
mistakes (then the host runs zero functions: "0 functions found"), the host's for names it refuses.
``funnx start`` and ``funnx list`` turn the verdict into one ``error:`` line and a non-zero exit.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from framework.emulator.host import EmulatorHost, Worker
from framework.errors import EmulatorError
from tests.conformance.apps import MISTAKES, with_mistake
from tests.conformance.conftest import WORKERS
from tests.conftest import run_cli

WORKER_REFUSES = "function 'adder' is refused by the Functions worker: "
ZERO_FUNCTIONS = " (the host would then run 0 functions)"
INDEX_FAILS = "the Python worker cannot index the app: "

#: mistake → the one line funnx prints (None: Azure loads the app).
VERDICTS: dict[str, str | None] = {
    "returns_dict": (
        f'{WORKER_REFUSES}Python return annotation "dict" does not match binding type "http"{ZERO_FUNCTIONS}'
    ),
    "request_dict": (
        f'{WORKER_REFUSES}binding type "\'req\'" and dataType "httpTrigger" in the binding decorator do not match '
        f"the corresponding function parameter's Python type annotation dict{ZERO_FUNCTIONS}"
    ),
    "extra_parameter": (
        f"{WORKER_REFUSES}the following parameters are declared in Python but not in the function definition "
        f"(function.json or function decorators):  {{'version'}}{ZERO_FUNCTIONS}"
    ),
    "context_not_context": (
        f'{WORKER_REFUSES}the "context" parameter is expected to be of type azure.functions.Context, '
        f"got \"<class 'str'>\"{ZERO_FUNCTIONS}"
    ),
    "returns_none": (
        f'{WORKER_REFUSES}Python return annotation "NoneType" does not match binding type "http"{ZERO_FUNCTIONS}'
    ),
    "returns_out": f"{WORKER_REFUSES}return annotation should not be azure.functions.Out{ZERO_FUNCTIONS}",
    "misspelt_annotation": f"{INDEX_FAILS}AttributeError: module 'azure.functions' has no attribute 'HttpRespons'",
    "unknown_name": f"{INDEX_FAILS}NameError: name 'HttpResponse' is not defined",
    "dotted_function_name": (
        "function 'adder.v2' is refused by the Functions host: 'adder.v2' is not a valid function name. "
        "(the host would skip it)"
    ),
    "function_named_host": (
        "function 'host' is refused by the Functions host: 'host' is not a valid function name. "
        "(the host would skip it)"
    ),
    "digit_function_name": (
        "function '2adder' is refused by the Functions host: '2adder' is not a valid function name. "
        "(the host would skip it)"
    ),
    "double_underscore_binding": (
        "function 'adder' is refused by the Functions host: The binding name adder__req is invalid. "
        "Please assign a valid name to the binding. (the host would skip it)"
    ),
    "duplicate_function_name": (
        f"{INDEX_FAILS}ValueError: Function adder does not have a unique function name. "
        "Please change @app.function_name() or the function method name to be unique."
    ),
    "unannotated": None,
    "returns_str": None,
    "single_underscore_binding": None,
    "async_handler": None,
}

#: What the generated apps serve: (function, route, methods, auth level), for every worker.
SERVED = [
    ("adder", "adder", ("POST",), "anonymous"),
    ("adder_metadata", "adder", ("GET",), "anonymous"),
    ("adder_v2", "v2/models/adder/{*rest}", ("GET", "POST"), "anonymous"),
    ("probe_echo", "probe/echo/{tail?}", ("GET", "POST"), "anonymous"),
    ("probe_json", "probe/json", ("POST",), "anonymous"),
    ("probe_text", "probe/text", None, "anonymous"),
    ("probe_reply", "probe/reply", None, "anonymous"),
    ("probe_context", "probe/context", None, "anonymous"),
    ("probe_same_get", "probe/same", ("GET",), "anonymous"),
    ("probe_same_write", "probe/same", ("POST", "PUT"), "anonymous"),
    ("probe_boom", "probe/boom", None, "anonymous"),
    ("probe_dict", "probe/dict", None, "anonymous"),
    ("probe_none", "probe/none", None, "anonymous"),
    ("probe_str_trigger", "probe/str-trigger", None, "anonymous"),
    ("funnx_v2", "v2/{*rest}", ("GET", "POST"), "anonymous"),
    ("funnx_openapi", "openapi.json", ("GET",), "function"),
    ("funnx_docs", "docs/{*asset}", ("GET",), "anonymous"),
]


def test_every_mistake_has_a_verdict() -> None:
    assert set(VERDICTS) == set(MISTAKES)


@pytest.mark.parametrize("worker", WORKERS)
@pytest.mark.parametrize("mistake", list(VERDICTS))
def test_verdict(generated: Path, tmp_path: Path, mistake: str, worker: Worker) -> None:
    app = with_mistake(generated, tmp_path / mistake, mistake)
    expected = VERDICTS[mistake]
    if expected is None:
        EmulatorHost(app, worker=worker).close()
        return
    with pytest.raises(EmulatorError) as refused:
        EmulatorHost(app, worker=worker)
    assert refused.value.message == expected


@pytest.mark.parametrize("worker", WORKERS)
@pytest.mark.parametrize("app_name", ["generated", "warmup"])
def test_generated_apps_index_alike(request: pytest.FixtureRequest, app_name: str, worker: Worker) -> None:
    host = EmulatorHost(request.getfixturevalue(app_name), worker=worker)
    try:
        served = [(f.name, f.route, f.methods, f.auth_level) for f in host.functions]
        assert served == SERVED
        if worker == "runtime":  # the warmup trigger is loaded by the worker too (it is not HTTP, so not routed)
            loaded = set(host.dispatcher.invoker.function_ids)  # type: ignore[attr-defined]
            assert ("funnx_warmup" in loaded) is (app_name == "warmup")
            assert {name for name, *_ in SERVED} <= loaded
    finally:
        host.close()


def test_funnx_list_refuses_what_the_worker_refuses(generated: Path, tmp_path: Path) -> None:
    app = with_mistake(generated, tmp_path / "app", "returns_dict")
    result = run_cli("list", "--app", app)
    assert result.exit_code == 1
    assert result.stderr == f"error: {VERDICTS['returns_dict']}\n"
    assert result.stdout == ""


@pytest.mark.parametrize("mistake", ["request_dict", "double_underscore_binding"])
def test_funnx_start_exits_with_one_line(generated: Path, tmp_path: Path, mistake: str) -> None:
    """The real host would keep running with zero functions (or without the one); funnx stops."""
    app = with_mistake(generated, tmp_path / "app", mistake)
    done = subprocess.run(
        [sys.executable, "-m", "framework.cli.main", "start", "--app", str(app), "--port", "0"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == f"error: {VERDICTS[mistake]}\n"
    assert "Listening on" not in done.stdout
