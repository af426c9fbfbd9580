"""Models pulled from real blob storage (Azurite): cache, ETags, SAS, errors, single-flight, concurrency.

Storage faults (outage, crash mid-download, deleted or garbage blobs, bad credentials) are in test_faults.py.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import numpy as np
import pytest

from framework.emulator import TestClient
from framework.emulator.azurite import ACCOUNT, ACCOUNT_KEY
from framework.emulator.host import EmulatorHost
from framework.emulator.server import BackgroundServer
from tests.conftest import AzuriteService, run_cli
from tests.models import add_one, mixed_inputs, run_direct

pytestmark = pytest.mark.storage


def blob_function(app_dir: Path, azurite: AzuriteService, name: str, model: Path, connection: str | None = None) -> str:
    """Upload ``model`` to a fresh container and scaffold ``name`` reading it; returns the container."""
    container = azurite.container()
    azurite.upload(container, f"{name}/model.onnx", model.read_bytes())
    args: list[str | Path] = ["new", name, "--model", f"az://{container}/{name}/model.onnx", "--app", app_dir]
    assert run_cli(*args, *(["--connection", connection] if connection else [])).exit_code == 0
    return container


def cached_after_a_first_load(app_dir: Path, azurite: AzuriteService, model: Path, cache: Path) -> tuple[str, Path]:
    """Function 'add' reading ``model`` from a new container, loaded once; the container and the cached file."""
    container = blob_function(app_dir, azurite, "add", model)
    with TestClient(app_dir, settings={"AzureWebJobsStorage": azurite.connection_string}) as client:
        assert client.post("/api/add", json={"data": [1]}).status_code == 200
    (cached,) = cache.glob("*.onnx")
    return container, cached


def test_blob_model_predicts_like_onnxruntime_and_reports_its_etag(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path
) -> None:
    model = mixed_inputs(tmp_path / "mixed.onnx")
    container = blob_function(app_dir, azurite, "mixed", model, connection="MODELS_STORAGE")
    inputs = {"x": [[0.5, 1, 2]], "scale": 4, "mask": [True], "tags": ["t"]}
    with TestClient(app_dir, settings={"MODELS_STORAGE": azurite.connection_string}) as client:
        reply = client.post("/api/mixed", json={"inputs": inputs})
        assert reply.status_code == 200, reply.json()
        expected = run_direct(
            model,
            {
                "x": np.array([[0.5, 1, 2]], np.float32),
                "scale": np.array(4),
                "mask": np.array([True]),
                "tags": np.array(["t"], object),
            },
        )
        assert reply.json()["result"]["y"] == expected[0].tolist()  # type: ignore[attr-defined]
        meta = client.get("/api/mixed").json()
        assert meta["source"] == f"az://{container}/mixed/model.onnx"
        assert meta["etag"].strip('"').startswith("0x")


def test_restart_reuses_the_cache_after_a_head_and_a_new_etag_downloads_again(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path, _private_model_cache: Path
) -> None:
    container = blob_function(app_dir, azurite, "add", add_one(tmp_path / "v1.onnx", 1.0))
    settings = {"AzureWebJobsStorage": azurite.connection_string}
    downloads, heads = azurite.operations("Blob_Download"), azurite.operations("Blob_GetProperties")
    with TestClient(app_dir, settings=settings) as client:  # cold start: HEAD + download
        assert client.post("/api/add", json={"data": [1]}).json()["result"] == [[2.0]]
    assert azurite.operations("Blob_Download", downloads + 1) == downloads + 1
    with TestClient(app_dir, settings=settings) as client:  # restart: HEAD shows the same ETag → cache
        assert client.post("/api/add", json={"data": [1]}).json()["result"] == [[2.0]]
        # the session for the cached file was built while the SDK imported and the HEAD ran
        assert "speculative_session_ms" in client.get("/api/add").json()["load_ms"]
    assert azurite.operations("Blob_Download", downloads + 1) == downloads + 1
    assert azurite.operations("Blob_GetProperties", heads + 2) == heads + 2

    azurite.upload(container, "add/model.onnx", add_one(tmp_path / "v2.onnx", 10.0).read_bytes())
    with TestClient(app_dir, settings=settings) as client:  # new ETag → new download
        assert client.post("/api/add", json={"data": [1]}).json()["result"] == [[11.0]]
        assert "speculative_session_ms" not in client.get("/api/add").json()["load_ms"]  # old file's session dropped
    assert azurite.operations("Blob_Download", downloads + 2) == downloads + 2
    assert len(list(_private_model_cache.glob("*.onnx"))) == 1  # the old version was pruned
    assert not list(_private_model_cache.glob(".*.part"))


def test_damaged_cache_entries_are_replaced(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path, _private_model_cache: Path
) -> None:
    _, cached = cached_after_a_first_load(app_dir, azurite, add_one(tmp_path / "m.onnx"), _private_model_cache)
    settings = {"AzureWebJobsStorage": azurite.connection_string}
    other_model = mixed_inputs(tmp_path / "other.onnx").read_bytes()  # loads fine, but is not this blob
    # same size but garbage; wrong size; another valid model (the head-start session built from it
    # while storage was asked must not be served: the file is downloaded again under the same name)
    for damage in (b"\0" * cached.stat().st_size, b"truncated", other_model):
        cached.write_bytes(damage)
        downloads = azurite.operations("Blob_Download")
        with TestClient(app_dir, settings=settings) as client:
            assert client.post("/api/add", json={"data": [1]}).json()["result"] == [[2.0]]
            assert "speculative_session_ms" not in client.get("/api/add").json()["load_ms"]
        assert azurite.operations("Blob_Download", downloads + 1) == downloads + 1
    (pointer,) = _private_model_cache.glob("*.last")
    for damage in (b"\xff\xfe not utf-8", b"../../etc/passwd", b"\0"):  # a damaged pointer costs the head start only
        pointer.write_bytes(damage)
        with TestClient(app_dir, settings=settings) as client:
            assert client.post("/api/add", json={"data": [1]}).json()["result"] == [[2.0]]
        assert pointer.read_text() == cached.name  # rewritten after the load


def test_missing_connection_setting_names_the_setting(app_dir: Path) -> None:
    assert (
        run_cli("new", "m", "--model", "az://models/m.onnx", "--connection", "MODELS_CONN", "--app", app_dir).exit_code
        == 0
    )
    with TestClient(app_dir) as client:
        reply = client.post("/api/m", json={"data": [1]})
    assert reply.status_code == 503
    assert "app setting MODELS_CONN is not set" in reply.json()["error"]
    assert "MODELS_CONN__serviceUri" in reply.json()["error"]


def test_sas_url_source_with_token_in_settings(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    container = azurite.container()
    azurite.upload(container, "m.onnx", add_one(tmp_path / "m.onnx", 5.0).read_bytes())
    token = generate_blob_sas(
        ACCOUNT,
        container,
        "m.onnx",
        account_key=ACCOUNT_KEY,
        permission=BlobSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    url = f"{azurite.azurite.blob_endpoint}/{container}/m.onnx"
    result = run_cli("new", "sas", "--model", f"{url}?{token}", "--app", app_dir)
    assert result.exit_code == 0 and token not in result.output
    with TestClient(app_dir) as client:
        assert client.post("/api/sas", json={"data": [1]}).json()["result"] == [[6.0]]
    # A token without read permission: refused by storage, and the signature never shows up.
    bad_token = generate_blob_sas(
        ACCOUNT,
        container,
        "m.onnx",
        account_key=ACCOUNT_KEY,
        permission=BlobSasPermissions(write=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    with caplog.at_level(logging.DEBUG), TestClient(app_dir, settings={"SAS_SAS": bad_token}) as client:
        reply = client.post("/api/sas", json={"data": [1]})
    assert reply.status_code == 503 and "app setting SAS_SAS" in reply.json()["error"]
    signature = unquote(bad_token.split("sig=")[1])
    assert "sig=" in caplog.text  # urllib3 did log the request line...
    for line in caplog.text.splitlines():  # ...with every signature redacted, in any encoding
        assert all(part.startswith("REDACTED") for part in line.split("sig=")[1:]), line
    for shown in (signature, quote(signature, safe=""), quote(signature)):
        assert shown not in reply.text and shown not in caplog.text


def test_sha256_mismatch_is_rejected_and_not_cached(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path, _private_model_cache: Path
) -> None:
    container = azurite.container()
    azurite.upload(container, "m.onnx", add_one(tmp_path / "m.onnx").read_bytes(), metadata={"sha256": "0" * 64})
    assert run_cli("new", "m", "--model", f"az://{container}/m.onnx", "--app", app_dir).exit_code == 0
    with TestClient(app_dir, settings={"AzureWebJobsStorage": azurite.connection_string}) as client:
        reply = client.post("/api/m", json={"data": [1]})
    assert reply.status_code == 503 and "sha256 mismatch" in reply.json()["error"]
    assert list(_private_model_cache.iterdir()) == []


def test_64_concurrent_first_requests_cause_one_download_and_one_session(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blob_function(app_dir, azurite, "add", add_one(tmp_path / "m.onnx"))
    downloads = azurite.operations("Blob_Download")
    host = EmulatorHost(app_dir, settings={"AzureWebJobsStorage": azurite.connection_string})
    together = threading.Barrier(64)

    def cold(i: int) -> httpx.Response:
        together.wait()  # all 64 are sent at once, while the model is still cold
        return http.post(f"{server.url}/api/add", json={"data": [i]}, timeout=60)

    try:
        with (
            caplog.at_level(logging.INFO, logger="funnx"),
            BackgroundServer(host) as server,
            httpx.Client(limits=httpx.Limits(max_connections=64)) as http,
            ThreadPoolExecutor(64) as pool,
        ):
            replies = list(pool.map(cold, range(64)))
    finally:
        host.close()
    assert [r.status_code for r in replies] == [200] * 64
    assert sorted(r.json()["result"][0][0] for r in replies) == [i + 1.0 for i in range(64)]
    assert azurite.operations("Blob_Download", downloads + 1) == downloads + 1
    assert sum("funnx model loaded" in r.getMessage() for r in caplog.records) == 1


def test_the_thread_pool_serves_several_cold_models_at_once_each_with_its_own_answers(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """32 clients, 4 models loaded concurrently from cold, both contracts: every answer comes from the
    model asked (y = x + its offset, exact in float32), and each model is downloaded and built once."""
    offsets = {f"m{i}": float(10**i) for i in range(4)}
    for name, offset in offsets.items():
        blob_function(app_dir, azurite, name, add_one(tmp_path / f"{name}.onnx", offset))
    downloads = azurite.operations("Blob_Download")
    rng = np.random.default_rng(7)
    jobs = [
        (str(name), rng.uniform(-100, 100, int(rng.integers(1, 9))).astype(np.float32), bool(rng.integers(2)))
        for name in rng.choice(list(offsets), 1280)
    ]

    def run(batch: list[tuple[str, np.ndarray, bool]]) -> list[tuple[int, list[float]]]:
        answers = []
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for name, x, oip in batch:
                if oip:
                    tensor = {"name": "x", "shape": [len(x)], "datatype": "FP32", "data": x.tolist()}
                    reply = http.post(f"/api/v2/models/{name}/infer", json={"inputs": [tensor]})
                    values = reply.json()["outputs"][0]["data"] if reply.status_code == 200 else []
                else:
                    reply = http.post(f"/api/{name}", json={"data": x.tolist()})
                    values = reply.json()["result"][0] if reply.status_code == 200 else []
                # float32 values travel as their shortest repr: exact once read back as float32
                answers.append((reply.status_code, np.array(values, np.float32).tolist()))
        return answers

    host = EmulatorHost(app_dir, settings={"AzureWebJobsStorage": azurite.connection_string})
    try:
        with (
            caplog.at_level(logging.INFO, logger="funnx"),
            BackgroundServer(host) as server,
            ThreadPoolExecutor(32) as pool,
        ):
            answers = [a for batch in pool.map(run, [jobs[i::32] for i in range(32)]) for a in batch]
    finally:
        host.close()
    expected = [(200, (x + np.float32(offsets[name])).tolist()) for i in range(32) for name, x, _ in jobs[i::32]]
    assert answers == expected
    assert azurite.operations("Blob_Download", downloads + 4) == downloads + 4
    loaded = sorted(r.getMessage().split()[3] for r in caplog.records if "funnx model loaded" in r.getMessage())
    assert loaded == [f"model={name}" for name in offsets]


def test_unusable_cache_folder_or_service_uri_is_a_503_naming_the_setting(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path
) -> None:
    blob_function(app_dir, azurite, "add", add_one(tmp_path / "m.onnx"))
    (tmp_path / "a-file").write_text("not a folder")
    settings = {"AzureWebJobsStorage": azurite.connection_string, "FUNNX_MODEL_CACHE_DIR": str(tmp_path / "a-file")}
    with TestClient(app_dir, settings=settings) as client:
        reply = client.post("/api/add", json={"data": [1]})
    assert reply.status_code == 503 and "set FUNNX_MODEL_CACHE_DIR to a folder of this user" in reply.json()["error"]
    identity_settings = {"AzureWebJobsStorage": "", "AzureWebJobsStorage__serviceUri": azurite.azurite.blob_endpoint}
    with TestClient(app_dir, settings=identity_settings) as client:
        reply = client.post("/api/add", json={"data": [1]})
    assert reply.status_code == 503 and "AzureWebJobsStorage__serviceUri" in reply.json()["error"]
    assert "HTTPS" in reply.json()["error"]


def test_partial_downloads_abandoned_by_a_dead_worker_are_removed(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path, _private_model_cache: Path
) -> None:
    container, cached = cached_after_a_first_load(app_dir, azurite, add_one(tmp_path / "v1.onnx"), _private_model_cache)
    key = cached.name.split("-")[0]
    stale, fresh = (
        _private_model_cache / f".{key}-0xOLD.onnx.dead.part",
        _private_model_cache / f".{key}-0xNEW.onnx.live.part",
    )
    for partial in (stale, fresh):
        partial.write_bytes(b"half a model")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    azurite.upload(container, "add/model.onnx", add_one(tmp_path / "v2.onnx", 3.0).read_bytes())
    with TestClient(app_dir, settings={"AzureWebJobsStorage": azurite.connection_string}) as client:
        assert client.post("/api/add", json={"data": [1]}).json()["result"] == [[4.0]]
    assert not stale.exists() and fresh.exists()
