"""The whole path a user takes: funnx init/new → model in blob storage → funnx start → HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from framework.emulator import TestClient
from framework.emulator.host import EmulatorHost
from framework.emulator.server import BackgroundServer
from framework.generator import runtime_wheel
from framework.generator.package import app_files
from tests.conftest import AzuriteService, run_cli
from tests.models import iris_path, mixed_inputs, run_direct

pytestmark = [pytest.mark.e2e, pytest.mark.storage]

REPO = Path(__file__).resolve().parents[2]
IRIS_ROWS = [[5.1, 3.5], [6.2, 2.9], [7.7, 3.0]]


def iris_expected() -> list[object]:
    label, probabilities = run_direct(iris_path(), {"float_input": np.array(IRIS_ROWS, dtype=np.float32)})
    return [label.tolist(), [{str(k): v for k, v in row.items()} for row in probabilities]]  # type: ignore[attr-defined]


@pytest.fixture
def started(app_dir: Path, azurite: AzuriteService, tmp_path: Path, _private_model_cache: Path) -> Iterator[str]:
    """`funnx start --port 0` in a subprocess, serving iris and a mixed-dtype model from Azurite."""
    container = azurite.container()
    mixed = mixed_inputs(tmp_path / "mixed.onnx")
    for name, model in (("iris", iris_path()), ("mixed", mixed)):
        azurite.upload(container, f"{name}.onnx", model.read_bytes())
        assert run_cli("new", name, "--model", f"az://{container}/{name}.onnx", "--app", app_dir).exit_code == 0
    settings = json.loads((app_dir / "local.settings.json").read_text())
    settings["Values"]["AzureWebJobsStorage"] = azurite.connection_string
    (app_dir / "local.settings.json").write_text(json.dumps(settings))
    env = {**os.environ, "FUNNX_MODEL_CACHE_DIR": str(_private_model_cache)}
    env.pop("AzureWebJobsStorage", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "framework.cli.main", "start", "--port", "0", "--app", str(app_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert process.stdout is not None
    banner = []
    for line in process.stdout:
        banner.append(line)
        found = re.search(r"Listening on (http://127\.0\.0\.1:\d+)", line)
        if found:
            break
    else:
        pytest.fail("funnx start exited:\n" + "".join(banner))
    assert any(re.search(r"\tiris: \[POST\] http://localhost:\d+/api/iris", line) for line in banner), banner
    try:
        yield found.group(1)
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0


def test_funnx_start_serves_predictions_from_blob_storage(started: str, tmp_path: Path) -> None:
    with httpx.Client(base_url=started, timeout=60) as http:
        iris = http.post("/api/iris", json={"data": IRIS_ROWS})
        assert iris.status_code == 200, iris.text
        assert iris.json()["result"] == iris_expected()
        inputs = {"x": [[1, 2, 3], [4, 5, 6]], "scale": 3, "mask": [True, False], "tags": ["é", "ü"]}
        mixed = http.post("/api/mixed", json={"inputs": inputs}).json()["result"]
        assert mixed == {"y": [[3.0, 6.0, 9.0], [12.0, 15.0, 18.0]], "count": 1, "tags_out": ["é", "ü"]}
        meta = http.get("/api/mixed").json()
        assert [i["name"] for i in meta["inputs"]] == ["x", "scale", "mask", "tags"]
        missing = http.post("/api/nope", json={})
        assert (missing.status_code, missing.content) == (404, b"")


def test_funnx_list_shows_what_the_worker_indexes(app_dir: Path) -> None:
    assert (
        run_cli(
            "new",
            "iris",
            "--model",
            "az://models/iris.onnx",
            "--route",
            "models/iris",
            "--auth-level",
            "anonymous",
            "--app",
            app_dir,
        ).exit_code
        == 0
    )
    listed = run_cli("list", "--json", "--app", app_dir)
    assert listed.exit_code == 0
    rows = json.loads(listed.output)
    common = {"auth_level": "anonymous", "model": "az://models/iris.onnx"}
    assert rows == [
        {"name": "iris", "methods": ["POST"], "url": "http://localhost:7071/api/models/iris", **common},
        {"name": "iris_metadata", "methods": ["GET"], "url": "http://localhost:7071/api/models/iris", **common},
        {
            "name": "iris_v2",
            "methods": ["GET", "POST"],
            "url": "http://localhost:7071/api/v2/models/iris/{*rest}",
            **common,
        },
        {
            "name": "funnx_v2",
            "methods": ["GET", "POST"],
            "url": "http://localhost:7071/api/v2/{*rest}",
            "auth_level": "anonymous",
            "model": "",
        },
        {
            "name": "funnx_openapi",
            "methods": ["GET"],
            "url": "http://localhost:7071/api/openapi.json",
            "auth_level": "function",
            "model": "",
        },
        {
            "name": "funnx_docs",
            "methods": ["GET"],
            "url": "http://localhost:7071/api/docs/{*asset}",
            "auth_level": "anonymous",
            "model": "",
        },
    ]
    table = run_cli("list", "--app", app_dir).output.splitlines()
    assert table[0].split() == ["NAME", "METHODS", "URL", "AUTH", "MODEL"]


def test_the_repo_is_a_working_app_with_its_sample_function(azurite: AzuriteService, tmp_path: Path) -> None:
    """functions_app/iris.py is exactly what `funnx new` renders, and it serves from blob storage."""
    copy = tmp_path / "repo-app"
    assert run_cli("init", copy).exit_code == 0
    assert run_cli("new", "iris", "--model", "az://models/iris.onnx", "--app", copy).exit_code == 0
    for generated in ("functions_app/iris.py", "tests/test_iris.py"):
        assert (REPO / generated).read_text() == (copy / generated).read_text(), generated
    for name in ("function_app.py", "host.json"):
        assert (REPO / name).read_text() == (copy / name).read_text(), name
    # This repository deploys funnx's runtime as source rather than as the wheel an app names.
    requirements = {line for line in (REPO / "requirements.txt").read_text().splitlines() if line[:1] not in "#"}
    rendered = {line for line in (copy / "requirements.txt").read_text().splitlines() if line[:1] not in "#"}
    assert requirements == rendered - {runtime_wheel.requirement_line()} | set(runtime_wheel.DEPENDENCIES)
    shipped = {name for _, name in app_files(REPO)}
    assert {"framework/errors.py", "framework/runtime/model.py", "functions_app/iris.py"} <= shipped
    assert not [name for name in shipped if name.startswith(("framework/cli/", "framework/emulator/", "tests/"))]

    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    if not service.get_container_client("models").exists():
        service.create_container("models")
    azurite.upload("models", "iris.onnx", iris_path().read_bytes())
    try:
        with TestClient(REPO, settings={"AzureWebJobsStorage": azurite.connection_string}) as client:
            reply = client.post("/api/iris", json={"data": IRIS_ROWS})
            assert reply.status_code == 200, reply.json()
            assert reply.json()["result"] == iris_expected()
    finally:  # tests/test_iris.py (as generated) expects the session's Azurite without this blob
        service.get_blob_client("models", "iris.onnx").delete_blob()


REQUESTS = [
    ("POST", "/api/iris", {"data": IRIS_ROWS}),
    ("POST", "/API/IRIS/", {"data": IRIS_ROWS, "outputs": ["label"]}),
    ("GET", "/api/iris", None),
    ("POST", "/api/iris", {"data": [[1, 2]]}),
    ("POST", "/api/iris", "not json"),
    ("PUT", "/api/iris", None),
    ("GET", "/api/unknown", None),
    ("POST", "/api/mixed", {"inputs": {"x": [[1, 2, 3]], "scale": 2, "mask": [True], "tags": ["z"]}}),
]


def test_loopback_server_and_in_process_client_answer_alike(app_dir: Path, tmp_path: Path) -> None:
    """One dispatch core: the same requests get the same status, content type and body both ways."""
    mixed_inputs(app_dir / "models" / "mixed.onnx")
    for name, model in (("iris", iris_path()), ("mixed", app_dir / "models" / "mixed.onnx")):
        assert run_cli("new", name, "--model", model, "--app", app_dir).exit_code == 0

    def normalise(status: int, content_type: str | None, body: bytes) -> tuple[int, str | None, object]:
        if content_type == "application/json":
            payload = json.loads(body)
            payload.pop("time", None)
            payload.pop("load_ms", None)
            return status, content_type, payload
        return status, content_type, body

    host = EmulatorHost(app_dir)
    try:
        with BackgroundServer(host) as server, httpx.Client(base_url=server.url) as http:
            over_http = []
            for method, path, body in REQUESTS:
                content = body if isinstance(body, str) else json.dumps(body) if body is not None else None
                reply = http.request(method, path, content=content)
                over_http.append(normalise(reply.status_code, reply.headers.get("content-type"), reply.content))
    finally:
        host.close()
    with TestClient(app_dir) as client:
        in_process = []
        for method, path, body in REQUESTS:
            data = body if isinstance(body, str) else json.dumps(body) if body is not None else None
            answer = client.request(method, path, data=data)
            in_process.append(normalise(answer.status_code, answer.headers.get("content-type"), answer.body))
    assert over_http == in_process
    assert [status for status, _, _ in over_http] == [200, 200, 200, 400, 400, 404, 404, 200]


def test_readme_demo_prints_a_prediction_from_blob_storage(azurite: AzuriteService, tmp_path: Path) -> None:
    """The README's first command (after set-up): scaffold, upload to Azurite, serve, predict."""
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py")],
        env={**os.environ, "FUNNX_DEMO_DIR": str(tmp_path / "demo")},
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "$ funnx new iris --model az://models/iris.onnx" in done.stdout
    assert "funnx model loaded: model=iris source=az://models/iris.onnx" in done.stdout
    assert "Done: the model came from Azurite blob storage; labels [0, 0, 0]" in done.stdout
