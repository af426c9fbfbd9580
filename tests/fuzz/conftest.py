"""One fuzzed app for the whole package, served in-process and over loopback; a summary of what was sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from onnx import TensorProto

from framework.emulator.host import EmulatorHost
from framework.emulator.server import BackgroundServer
from tests.conftest import run_cli
from tests.fuzz.harness import BODY_LIMIT, MODELS, STATS, FuzzApp, assert_still_serving
from tests.models import add_one, dynamic_cnn, identity, int32_and_fp16, iris_path, mixed_inputs, shared_sequence


def build_app(app: Path) -> Path:
    """``funnx init`` + ``funnx new`` for every model the harness describes (``MODELS``)."""
    assert run_cli("init", app).exit_code == 0
    models = app / "models"
    paths = {
        "add": add_one(models / "add.onnx"),
        "mixed": mixed_inputs(models / "mixed.onnx"),
        "typed": int32_and_fp16(models / "typed.onnx"),
        "iris": iris_path(),
        "text": identity(models / "text.onnx", name="s", elem_type=TensorProto.STRING, shape=[1]),
        "pix": identity(models / "pix.onnx", name="p", elem_type=TensorProto.UINT8, shape=[2, "n"]),
        "bert": shared_sequence(models / "bert.onnx"),
        "cnn": dynamic_cnn(models / "cnn.onnx"),
    }
    assert set(paths) == set(MODELS)
    for name, path in paths.items():
        result = run_cli("new", name, "--model", path, "--app", app)
        assert result.exit_code == 0, result.output
    return app


@pytest.fixture(scope="package")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzApp]:
    app = build_app(tmp_path_factory.mktemp("fuzz") / "app")
    settings = {"FUNNX_MODEL_CACHE_DIR": str(app / ".cache"), "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": str(BODY_LIMIT)}
    host = EmulatorHost(app, settings=settings)
    try:
        with BackgroundServer(host) as server:
            served = FuzzApp(host, server.url)
            try:
                assert_still_serving(served)  # every model loaded and right before the first fuzz case
                yield served
            finally:
                served.close()
    finally:
        host.close()


@pytest.fixture
def app(fuzz_app: FuzzApp) -> Iterator[FuzzApp]:
    """The fuzzed app; after each test, known-good requests must still get the right answers."""
    yield fuzz_app
    assert_still_serving(fuzz_app)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not STATS.examples:
        return
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(STATS.statuses.items()))
    terminalreporter.write_sep("-", "funnx fuzz")
    terminalreporter.write_line(
        f"{sum(STATS.examples.values())} hypothesis examples, {STATS.statuses.total()} requests "
        f"({statuses}); slowest request {STATS.slowest:.3f} s"
    )
    for name, count in sorted(STATS.examples.items()):
        terminalreporter.write_line(f"  {name}: {count}")
