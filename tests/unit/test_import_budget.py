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
#: Loaded only when asked for: the OpenAPI document with its examples' size search, the API page and
#: the package of Swagger UI's files. An app never asked for them pays nothing for them.
ON_REQUEST = [
    "framework.runtime.openapi",
    "framework.runtime.examples",
    "framework.runtime.sizes",
    "framework.runtime.apidocs",
    "swagger_ui_bundle",
]

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
    leaked = [m for m in FORBIDDEN + LAZY + ON_REQUEST if m in loaded or any(x.startswith(m + ".") for x in loaded)]
    assert leaked == []
    assert "azure.functions" in loaded and "numpy" in loaded


PAGE_OFF_PROBE = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
os.environ["AZURE_FUNCTIONS_ENVIRONMENT"] = "Production"  # Azure, where the page is off by default
import azure.functions as func
import function_app
docs = next(f for f in function_app.app.get_functions() if f.get_function_name() == "funnx_docs")
request = func.HttpRequest("GET", "http://localhost/api/docs", route_params={"asset": ""}, body=b"")
answer = docs.get_user_function()(request)
print(json.dumps([answer.status_code, sorted(m for m in sys.modules)]))
"""


def test_the_api_page_turned_off_loads_no_asset_package(app_dir: Path) -> None:
    """Asking an Azure app with the page off for it costs a 404 and a small module, not Swagger UI's files."""
    assert run_cli("new", "iris", "--model", "az://models/iris.onnx", "--app", app_dir).exit_code == 0
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", PAGE_OFF_PROBE, str(app_dir)], capture_output=True, text=True, check=True, cwd=repo
    ).stdout
    status, loaded = json.loads(out)
    assert status == 404
    assert "framework.runtime.apidocs" in loaded  # it answered
    assert [m for m in ("swagger_ui_bundle", "framework.runtime.openapi", "onnxruntime") if m in loaded] == []


#: The deployed runtime, module by module: what Azure runs and nothing else. Adding a module here is a
#: decision (it ships to every app); tooling (uploads, generation, the emulator) lives elsewhere.
DEPLOYED = {
    "framework/__init__.py",
    "framework/errors.py",
    *(f"framework/runtime/{name}.py" for name in (
        "__init__", "apidocs", "batching", "blobstore", "cache", "catalog", "compression", "datatypes", "discovery",
        "examples", "fetch", "hostconfig", "jsoncodec", "lifecycle", "loading", "model", "naming", "oip",
        "oip_codec", "openapi", "registry", "responses", "session_options", "settings", "signature", "simple",
        "sizes", "sources", "speculative", "telemetry", "telemetry_setup", "tensors",
    )),
}  # fmt: skip


def test_the_runtime_wheel_holds_exactly_the_deployed_modules() -> None:
    import io
    import zipfile

    from framework.generator import runtime_wheel

    names = zipfile.ZipFile(io.BytesIO(runtime_wheel.build())).namelist()
    assert {n for n in names if not n.startswith("funnx_runtime-")} == DEPLOYED
