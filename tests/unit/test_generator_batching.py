"""`funnx new --max-batch-size/--max-batch-delay-ms`: literals in the module, settings that override
them, a thread count that lets batches form, and one clear error for a model without a batch axis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framework.emulator import TestClient
from tests.conftest import run_cli
from tests.models import iris_path, mlp


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def local_values(app_dir: Path) -> dict[str, str]:
    values: dict[str, str] = json.loads((app_dir / "local.settings.json").read_text())["Values"]
    return values


@pytest.fixture
def model(app_dir: Path) -> Path:
    return mlp(app_dir / "models" / "mlp.onnx", sizes=(8, 16, 4))


def test_the_options_become_literals_the_runtime_reads(app_dir: Path, model: Path) -> None:
    args: list[str | Path] = ["--max-batch-size", "16", "--max-batch-delay-ms", "1.5", "--app", app_dir]
    result = run_cli("new", "mlp", "--model", model, *args)
    assert result.exit_code == 0, result.output
    assert "batching: up to 16 rows per run, waiting at most 1.5 ms" in result.output
    text = (app_dir / "functions_app" / "mlp.py").read_text()
    assert "    max_batch_size=16," in text and "    max_batch_delay_ms=1.5," in text
    assert "FUNNX_MLP_MAX_BATCH_SIZE" in text and "FUNNX_MLP_MAX_BATCH_DELAY_MS" in text
    assert local_values(app_dir)["PYTHON_THREADPOOL_THREAD_COUNT"] == "32"
    with TestClient(app_dir) as client:
        batching = client.get("/api/mlp").json()["batching"]
    assert batching["max_batch_size"] == 16 and batching["max_batch_delay_ms"] == 1.5 and batching["enabled"] is True


def test_without_options_the_module_declares_no_batching(app_dir: Path, model: Path) -> None:
    assert run_cli("new", "mlp", "--model", model, "--app", app_dir).exit_code == 0
    text = (app_dir / "functions_app" / "mlp.py").read_text()
    assert "    max_batch_size=None," in text and "    max_batch_delay_ms=None," in text
    assert "PYTHON_THREADPOOL_THREAD_COUNT" not in local_values(app_dir)
    with TestClient(app_dir) as client:
        assert "batching" not in client.get("/api/mlp").json()


def test_the_delay_defaults_to_2_ms(app_dir: Path, model: Path) -> None:
    assert run_cli("new", "mlp", "--model", model, "--max-batch-size", "8", "--app", app_dir).exit_code == 0
    assert "    max_batch_delay_ms=2.0," in (app_dir / "functions_app" / "mlp.py").read_text()


def test_app_settings_override_the_literals(app_dir: Path, model: Path) -> None:
    assert run_cli("new", "mlp", "--model", model, "--max-batch-size", "8", "--app", app_dir).exit_code == 0
    settings = {"FUNNX_MLP_MAX_BATCH_SIZE": "4", "FUNNX_MLP_MAX_BATCH_DELAY_MS": "0"}
    with TestClient(app_dir, settings=settings) as client:
        batching = client.get("/api/mlp").json()["batching"]
    assert (batching["max_batch_size"], batching["max_batch_delay_ms"]) == (4, 0.0)
    with TestClient(app_dir, settings={"FUNNX_MLP_MAX_BATCH_SIZE": "1"}) as client:  # 1 row per run: off
        assert "batching" not in client.get("/api/mlp").json()


def test_the_thread_count_only_grows(app_dir: Path, model: Path) -> None:
    settings = json.loads((app_dir / "local.settings.json").read_text())
    settings["Values"]["PYTHON_THREADPOOL_THREAD_COUNT"] = "20"
    (app_dir / "local.settings.json").write_text(json.dumps(settings))
    assert run_cli("new", "a", "--model", model, "--max-batch-size", "4", "--app", app_dir).exit_code == 0
    assert local_values(app_dir)["PYTHON_THREADPOOL_THREAD_COUNT"] == "20"  # 8 would be enough: kept
    assert run_cli("new", "b", "--model", model, "--max-batch-size", "32", "--app", app_dir).exit_code == 0
    assert local_values(app_dir)["PYTHON_THREADPOOL_THREAD_COUNT"] == "64"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--max-batch-size", "8"], "the model cannot batch: input float_input (tensor(float) [3, 2]) has no symbolic"),
        (["--max-batch-size", "1"], "--max-batch-size must be 2 or more"),
        (["--max-batch-delay-ms", "3"], "--max-batch-delay-ms needs --max-batch-size"),
        (["--max-batch-size", "4", "--max-batch-delay-ms", "-1"], "--max-batch-delay-ms must lie in [0, 1000] ms"),
    ],
)
def test_bad_batching_options_get_one_line_and_write_nothing(
    app_dir: Path, model: Path, args: list[str], fragment: str
) -> None:
    source = iris_path() if "cannot batch" in fragment else model  # iris: a fixed first dimension of 3
    before = tree(app_dir)
    result = run_cli("new", "m", "--model", source, *args, "--app", app_dir)
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert fragment in result.output and "Traceback" not in result.output
    assert tree(app_dir) == before
