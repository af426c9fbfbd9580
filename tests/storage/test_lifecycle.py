"""Model lifecycle against real Azurite: the registry, refresh without downtime, warmup, options."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import pytest

from framework.emulator import TestClient
from framework.emulator.azurite import Azurite
from framework.emulator.host import EmulatorHost
from framework.emulator.server import BackgroundServer
from tests.conftest import AzuriteService, run_cli
from tests.models import add_one, mlp, run_direct
from tests.storage.conftest import wait_until

pytestmark = pytest.mark.storage


@pytest.fixture
def registry_app(app_dir: Path, azurite: AzuriteService) -> Path:
    """An app whose local.settings.json points at the test Azurite, with a registry container of its own."""
    settings = json.loads((app_dir / "local.settings.json").read_text())
    settings["Values"]["AzureWebJobsStorage"] = azurite.connection_string
    settings["Values"]["FUNNX_REGISTRY_CONTAINER"] = azurite.container()
    (app_dir / "local.settings.json").write_text(json.dumps(settings))
    return app_dir


def upload(app: Path, model: Path, name: str, *extra: str) -> str:
    result = run_cli("model", "upload", model, "--name", name, "--app", app, *extra)
    assert result.exit_code == 0, result.output
    return result.output


def test_upload_list_show_and_immutable_versions(registry_app: Path, tmp_path: Path) -> None:
    first = upload(
        registry_app, add_one(tmp_path / "v1.onnx", 1.0), "adder", "--tag", "team=ml", "--description", "adds one"
    )
    assert "registered adder:1" in first and "adder:latest now points at 1" in first
    assert "registered adder:2" in upload(registry_app, add_one(tmp_path / "v2.onnx", 2.0), "adder")
    listed = json.loads(run_cli("model", "list", "--json", "--app", registry_app).output)
    assert [(m["name"], m["version"], m["latest"]) for m in listed] == [("adder", "1", False), ("adder", "2", True)]
    assert listed[0]["tags"] == {"team": "ml"} and listed[0]["description"] == "adds one"
    assert listed[0]["signature"]["inputs"] == [{"name": "x", "type": "tensor(float)", "shape": ["n"]}]
    assert len(listed[0]["sha256"]) == 64 and listed[0]["size"] == (tmp_path / "v1.onnx").stat().st_size
    shown = json.loads(run_cli("model", "show", "adder", "--app", registry_app).output)
    assert (shown["version"], shown["latest"]) == ("2", True)
    table = run_cli("model", "list", "--app", registry_app).output
    assert "adder" in table and "2 *" in table
    again = run_cli("model", "upload", tmp_path / "v1.onnx", "--name", "adder", "--version", "1", "--app", registry_app)
    assert again.exit_code == 1 and "adder:1 already exists; versions are immutable" in again.output
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    junk = run_cli("model", "upload", tmp_path / "junk.onnx", "--name", "adder", "--app", registry_app)
    assert junk.exit_code == 1 and "onnxruntime cannot load" in junk.output
    missing = run_cli("model", "show", "adder:9", "--app", registry_app)
    assert missing.exit_code == 1 and "no registered model adder:9 (versions: 1, 2)" in missing.output


def test_functions_resolve_pinned_and_latest_versions(registry_app: Path, tmp_path: Path) -> None:
    upload(registry_app, add_one(tmp_path / "v1.onnx", 1.0), "adder")
    upload(registry_app, add_one(tmp_path / "v2.onnx", 2.0), "adder")
    assert run_cli("new", "pinned", "--model", "adder:1", "--app", registry_app).exit_code == 0
    assert run_cli("new", "newest", "--model", "adder:latest", "--app", registry_app).exit_code == 0
    with TestClient(registry_app) as client:
        pinned = client.post("/api/pinned", json={"data": [1]})
        newest = client.post("/api/newest", json={"data": [1]})
        assert (pinned.json()["result"], pinned.headers["x-model-version"]) == ([[2.0]], "1")
        assert (newest.json()["result"], newest.headers["x-model-version"]) == ([[3.0]], "2")
        oip = client.get("/api/v2/models/newest").json()
        assert oip["versions"] == ["2"]
        assert client.get("/api/v2/models/newest/versions/2/ready").status_code == 200
        assert client.get("/api/v2/models/newest/versions/1/ready").status_code == 404
    assert run_cli("new", "gone", "--model", "nothing:latest", "--app", registry_app).exit_code == 0
    with TestClient(registry_app) as client:
        reply = client.post("/api/gone", json={"data": [1]})
        assert (
            reply.status_code == 503
            and "cannot read the latest version of registry model 'nothing'" in reply.json()["error"]
        )


def test_registered_model_with_a_wrong_sha256_is_rejected_and_not_cached(
    registry_app: Path, tmp_path: Path, azurite: AzuriteService, _private_model_cache: Path
) -> None:
    upload(registry_app, add_one(tmp_path / "v1.onnx"), "adder")
    container = json.loads((registry_app / "local.settings.json").read_text())["Values"]["FUNNX_REGISTRY_CONTAINER"]
    from azure.storage.blob import BlobServiceClient

    blob = BlobServiceClient.from_connection_string(azurite.connection_string).get_blob_client(
        container, "adder/1/model.onnx"
    )
    blob.set_blob_metadata({"sha256": "0" * 64})
    assert run_cli("new", "adder", "--model", "adder:1", "--app", registry_app).exit_code == 0
    with TestClient(registry_app) as client:
        reply = client.post("/api/adder", json={"data": [1]})
    assert reply.status_code == 503 and "sha256 mismatch" in reply.json()["error"]
    assert not list(_private_model_cache.glob("*.onnx"))


def test_new_version_served_under_steady_load_without_a_failed_request(registry_app: Path, tmp_path: Path) -> None:
    """refresh_seconds: a new 'latest' is swapped in while 8 loopback HTTP clients keep sending. No
    request fails, every answer is exactly what the version it reports computes, requests are served
    while the new version downloads and builds, and the switch is one-way."""
    sizes = (64, 2048, 2048, 4)  # 17 MB: its download and session take long enough to overlap traffic
    v1, v2 = mlp(tmp_path / "v1.onnx", sizes, seed=1), mlp(tmp_path / "v2.onnx", sizes, seed=2)
    x = np.linspace(-1, 1, 64, dtype=np.float32)[None]
    expected = {version: np.asarray(run_direct(model, {"x": x})[0]) for version, model in (("1", v1), ("2", v2))}
    upload(registry_app, v1, "net")
    assert (
        run_cli("new", "net", "--model", "net:latest", "--refresh-seconds", "0.5", "--app", registry_app).exit_code == 0
    )
    replies: list[tuple[float, int, str, list[list[float]]]] = []  # (answered at, status, version, result)
    stop = threading.Event()
    host = EmulatorHost(registry_app)

    def stream() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                reply = http.post("/api/net", json={"data": x.tolist()})
                result = reply.json().get("result", [None])[0]
                replies.append((time.monotonic(), reply.status_code, reply.headers.get("x-model-version", ""), result))

    try:
        with BackgroundServer(host) as server:
            assert httpx.post(f"{server.url}/api/net", json={"data": x.tolist()}, timeout=30).status_code == 200
            threads = [threading.Thread(target=stream) for _ in range(8)]
            for thread in threads:
                thread.start()
            wait_until(lambda: len(replies) >= 4 * len(threads), "the clients never got going")
            upload(registry_app, v2, "net")
            published = time.monotonic()

            def served_on_after_the_switch() -> bool:  # answers from after the no-going-back check's margin
                switched = next((t for t, _, v, _ in list(replies) if v == "2"), None)
                return switched is not None and sum(t > switched + 0.1 for t, _, _, _ in list(replies)) >= 16

            wait_until(served_on_after_the_switch, "the new version was never served for long", timeout=15)
            stop.set()
            for thread in threads:
                thread.join()
            load_seconds = httpx.get(f"{server.url}/api/net", timeout=30).json()["load_ms"]["total_ms"] / 1000
    finally:
        host.close()
    assert Counter(status for _, status, _, _ in replies) == {200: len(replies)}  # zero failed requests
    for _, _, version, result in replies:
        assert np.allclose(result, expected[version], rtol=1e-5, atol=1e-6), version
    assert any(v == "2" for _, _, v, _ in replies), "the new version was never served"
    switched_at = min(t for t, _, v, _ in replies if v == "2")
    assert switched_at - published < 15  # refresh_seconds + load time, with room for a slow machine
    assert sum(switched_at - load_seconds <= t < switched_at for t, _, _, _ in replies) > 0  # served while loading
    assert [v for t, _, v, _ in replies if t > switched_at + 0.1].count("1") == 0  # no going back


def test_warmup_readiness_goes_from_loading_to_ready(app_dir: Path, tmp_path: Path, azurite: AzuriteService) -> None:
    """A warmup model loads from app start; v2/health/ready is 503 until it has, then 200."""
    with Azurite(location=tmp_path / "data") as own:
        container = AzuriteService(own, tmp_path / "x.log").container()
        AzuriteService(own, tmp_path / "x.log").upload(container, "m.onnx", add_one(tmp_path / "m.onnx").read_bytes())
        assert (
            run_cli("new", "warm", "--model", f"az://{container}/m.onnx", "--warmup", "--app", app_dir).exit_code == 0
        )
        own.stop()  # storage down at start: the warmup load keeps retrying in the background
        host = EmulatorHost(app_dir, settings={"AzureWebJobsStorage": own.connection_string})
        try:
            with TestClient(host=host) as client:
                not_ready = client.get("/api/v2/health/ready")
                assert not_ready.status_code == 503 and not_ready.json()["models"] == {}  # behind a key: not named
                assert "1 model(s) behind keys" in not_ready.json()["error"]
                probe = client.get("/api/v2/models/warm/ready")
                assert probe.status_code == 503 and probe.json()["state"] in ("loading", "failed")
                own.start()
                wait_until(
                    lambda: client.get("/api/v2/health/ready").status_code == 200, "warmup", timeout=40, interval=0.1
                )
                ready = client.get("/api/v2/models/warm/ready")
                assert ready.status_code == 200 and ready.json()["load_ms"]["session_ms"] > 0
                assert client.get("/api/warm").json()["state"] == "ready"
        finally:
            host.close()


def test_session_options_from_the_module_and_app_settings(app_dir: Path, tmp_path: Path) -> None:
    add_one(app_dir / "models" / "m.onnx")
    args: list[str | Path] = ["new", "m", "--model", app_dir / "models" / "m.onnx", "--intra-op-threads", "1",
            "--execution-mode", "parallel", "--optimized-model-cache", "--app", app_dir]  # fmt: skip
    assert run_cli(*args).exit_code == 0
    assert '"intra_op_threads": 1' in (app_dir / "functions_app" / "m.py").read_text()
    with TestClient(
        app_dir, settings={"FUNNX_M_INTRA_OP_THREADS": "2", "FUNNX_MODEL_CACHE_DIR": str(tmp_path / "c")}
    ) as client:
        assert client.post("/api/m", json={"data": [1]}).status_code == 200
        session = client.get("/api/m").json()["session"]
        assert (session["intra_op_threads"], session["execution_mode"], session["optimized_model_cache"]) == (
            2,
            "parallel",
            True,
        )
    assert len(list((tmp_path / "c").glob("*.optimized.onnx"))) == 1  # reused by the next cold start
    with TestClient(
        app_dir, settings={"FUNNX_M_PROVIDERS": "cuda", "FUNNX_MODEL_CACHE_DIR": str(tmp_path / "c")}
    ) as client:
        reply = client.post("/api/m", json={"data": [1]})
        assert reply.status_code == 503
        assert "CUDAExecutionProvider is not available in this onnxruntime" in reply.json()["error"]
    bad = run_cli("new", "b", "--model", app_dir / "models" / "m.onnx", "--intra-op-threads", "-1", "--app", app_dir)
    assert bad.exit_code == 1 and "invalid value -1 for session option 'intra_op_threads'" in bad.output
