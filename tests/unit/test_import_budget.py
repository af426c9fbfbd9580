"""The deployed runtime stays light: importing it and a generated module loads none of the tooling.

Also checks the design choice that onnxruntime and the blob SDK load only with the first model, so
indexing many functions is cheap.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_cli

FORBIDDEN = [
    "click",
    "jinja2",
    "uvicorn",
    "framework.cli",
    "framework.generator",
    "framework.emulator",
    "azure.storage.blob",
    "azure.identity",
]
LAZY = ["onnxruntime"]

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import framework.runtime
import function_app
import functions_app.iris
print(json.dumps(sorted(m for m in sys.modules)))
"""


def test_runtime_and_generated_module_import_no_tooling(app_dir: Path) -> None:
    assert run_cli("new", "iris", "--model", "az://models/iris.onnx", "--app", app_dir).exit_code == 0
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(app_dir)], capture_output=True, text=True, check=True, cwd=repo
    ).stdout
    loaded = set(json.loads(out))
    leaked = [m for m in FORBIDDEN + LAZY if m in loaded or any(x.startswith(m + ".") for x in loaded)]
    assert leaked == []
    assert "azure.functions" in loaded and "numpy" in loaded


#: The deployed runtime, module by module: what Azure runs and nothing else. Adding a module here is a
#: decision (it ships to every app); tooling (uploads, generation, the emulator) lives elsewhere.
DEPLOYED = {
    "framework/__init__.py",
    "framework/errors.py",
    *(f"framework/runtime/{name}.py" for name in (
        "__init__", "blobstore", "cache", "catalog", "compression", "datatypes", "discovery", "fetch",
        "hostconfig", "jsoncodec", "lifecycle", "loading", "model", "naming", "oip", "oip_codec", "openapi",
        "registry", "responses", "session_options", "settings", "signature", "simple", "sources", "speculative",
        "tensors",
    )),
}  # fmt: skip


def test_the_runtime_wheel_holds_exactly_the_deployed_modules() -> None:
    import io
    import zipfile

    from framework.generator import runtime_wheel

    names = zipfile.ZipFile(io.BytesIO(runtime_wheel.build())).namelist()
    assert {n for n in names if not n.startswith("funnx_runtime-")} == DEPLOYED
