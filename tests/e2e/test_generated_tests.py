"""`funnx new` writes tests that pass as generated, with funnx's pytest plugin, in the user's app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import AzuriteService, run_cli
from tests.models import dynamic_cnn, iris_path

pytestmark = [pytest.mark.e2e, pytest.mark.storage]

UPLOAD_TEST = """
from pathlib import Path

MODEL = Path(__file__).parent.parent / "models" / "iris.onnx"


def test_a_prediction_after_uploading(funnx_app, funnx_upload):
    funnx_upload(MODEL, "az://models/blob_iris.onnx")
    reply = funnx_app.client.post("/api/blob_iris", json={"data": [[1, 2], [3, 4], [5, 6]]})
    assert reply.status_code == 200, reply.json()
    assert reply.json()["result"][0] == [0, 0, 0]
"""


def test_generated_tests_pass_in_a_fresh_app(app_dir: Path, azurite: AzuriteService) -> None:
    (app_dir / "models").mkdir()
    (app_dir / "models" / "iris.onnx").write_bytes(iris_path().read_bytes())
    assert run_cli("new", "local_iris", "--model", app_dir / "models" / "iris.onnx", "--app", app_dir).exit_code == 0
    assert run_cli("new", "blob_iris", "--model", "az://models/blob_iris.onnx", "--app", app_dir).exit_code == 0
    # A blob model with its local copy where --seed-models looks: its tests upload it and predict.
    dynamic_cnn(app_dir / "models" / "blob_cnn.onnx")
    assert run_cli("new", "blob_cnn", "--model", "az://models/blob_cnn.onnx", "--app", app_dir).exit_code == 0
    assert (
        "funnx_upload(funnx_app.app_dir / LOCAL_COPY, SOURCE)" in (app_dir / "tests" / "test_blob_cnn.py").read_text()
    )
    # Runs first (name order): its upload must not leak into the generated blob test, which expects 503.
    (app_dir / "tests" / "test_a_upload.py").write_text(UPLOAD_TEST)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=app_dir, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "FUNNX_REQUIRE_AZURITE": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # 3 for the local model, 2 for the blob one without a local copy, 3 for the one with, the upload
    assert "9 passed" in done.stdout, done.stdout
