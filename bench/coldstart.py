"""Cold start: what a new worker pays before its first answer.

Every measurement runs in a fresh interpreter that sees only what Azure would: the app unzipped
from ``funnx package`` and its ``.python_packages`` (``python -I -S``, nothing else installed).

* Import: a generated app (function_app.py and its model modules) in a fresh interpreter, against
  importing azure.functions + numpy + onnxruntime alone (what any ONNX function needs).
* Model load from Azurite, each in a fresh interpreter: funnx's first load (HEAD, streamed
  download, verify, session), funnx after a restart with a valid cache (HEAD, session), and the
  naive code Azure samples use (``download_blob().readall()`` then ``InferenceSession(bytes)``).
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from bench.apps import make_app
from framework.emulator.azurite import Azurite
from framework.generator.package import build_package
from tests.models import mlp

PATHS = """
import sys
sys.path[:0] = [sys.argv[1] + "/.python_packages/lib/site-packages", sys.argv[1]]
"""
IMPORT_APP = (
    PATHS
    + """
import time
started = time.perf_counter()
import function_app
print((time.perf_counter() - started) * 1000)
"""
)
IMPORT_BASE = (
    PATHS
    + """
import time
started = time.perf_counter()
import azure.functions, numpy, onnxruntime
print((time.perf_counter() - started) * 1000)
"""
)
FUNNX_LOAD = (
    PATHS
    + """
import json, sys, time
from framework.runtime.model import OnnxModel
model = OnnxModel(name="big", source=sys.argv[2])
started = time.perf_counter()
loaded = model.get()
print(json.dumps({"total_ms": (time.perf_counter() - started) * 1000, **loaded.timings}))
"""
)
NAIVE_LOAD = (
    PATHS
    + """
import json, os, sys, time
started = time.perf_counter()
from azure.storage.blob import BlobClient
import onnxruntime
container, blob = sys.argv[2].removeprefix("az://").split("/", 1)
data = BlobClient.from_connection_string(os.environ["AzureWebJobsStorage"], container, blob).download_blob().readall()
session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
print(json.dumps({"total_ms": (time.perf_counter() - started) * 1000}))
"""
)


def _python(code: str, root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    command = [sys.executable, "-I", "-S", "-c", code, str(root), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=root, env=env)
    return done.stdout.strip().splitlines()[-1]


def deployed_app(scratch: Path) -> Path:
    """The bench app, packaged with ``funnx package`` and unzipped: what Azure runs. Packaged for the
    Python running the bench (the package's default target, 3.13, ships wheels this one cannot import)."""
    app = make_app(scratch / "app")
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    archive = build_package(app, scratch / "app.zip", python=running).path
    root = scratch / "wwwroot"
    zipfile.ZipFile(archive).extractall(root)
    return root


def import_times(root: Path, repeats: int = 7) -> dict[str, float]:
    env = {"AzureWebJobsScriptRoot": str(root)}
    ours = [float(_python(IMPORT_APP, root, env=env)) for _ in range(repeats)]
    base = [float(_python(IMPORT_BASE, root, env=env)) for _ in range(repeats)]
    return {"generated_app_ms": statistics.median(ours), "baseline_ms": statistics.median(base)}


def model_loads(root: Path, repeats: int = 3, sizes: tuple[int, ...] = (784, 4096, 4096, 1024)) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="funnx-bench-") as scratch, Azurite() as azurite:
        from azure.storage.blob import BlobServiceClient

        model = mlp(Path(scratch) / "big.onnx", sizes)
        model_mb = model.stat().st_size / 1e6
        service = BlobServiceClient.from_connection_string(azurite.connection_string)
        service.create_container("models")
        with model.open("rb") as stream:
            service.get_blob_client("models", "big.onnx").upload_blob(stream)
        cache = Path(scratch) / "cache"
        env = {"AzureWebJobsStorage": azurite.connection_string, "FUNNX_MODEL_CACHE_DIR": str(cache),
               "AzureWebJobsScriptRoot": str(root)}  # fmt: skip
        first, restart, naive = [], [], []
        for _ in range(repeats):
            shutil.rmtree(cache, ignore_errors=True)
            first.append(json.loads(_python(FUNNX_LOAD, root, "az://models/big.onnx", env=env)))
            restart.append(json.loads(_python(FUNNX_LOAD, root, "az://models/big.onnx", env=env)))
            naive.append(json.loads(_python(NAIVE_LOAD, root, "az://models/big.onnx", env=env)))

    def median(runs: list[dict[str, float]], key: str = "total_ms") -> float:
        return statistics.median(run.get(key, 0.0) for run in runs)

    return {
        "model_mb": model_mb,
        "first_ms": median(first),
        "first_steps": {
            k: median(first, k)
            for k in ("sdk_ms", "head_ms", "download_ms", "verify_ms", "ort_import_ms", "session_ms")
        },
        "restart_ms": median(restart),
        "restart_steps": {k: median(restart, k) for k in ("sdk_ms", "head_ms", "ort_import_ms", "session_ms")},
        "naive_ms": median(naive),
    }


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="funnx-bench-") as folder:
        deployed = deployed_app(Path(folder))
        print(import_times(deployed))
        print(model_loads(deployed))
