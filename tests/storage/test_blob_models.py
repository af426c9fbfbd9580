"""Models pulled from real blob storage (Azurite): cache, ETags, SAS, errors, single-flight."""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import numpy as np
import pytest

from framework.emulator import TestClient
from framework.emulator.azurite import ACCOUNT, ACCOUNT_KEY, Azurite
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
    blob_function(app_dir, azurite, "add", add_one(tmp_path / "m.onnx"))
    settings = {"AzureWebJobsStorage": azurite.connection_string}
    with TestClient(app_dir, settings=settings) as client:
        client.post("/api/add", json={"data": [1]})
    (cached,) = _private_model_cache.glob("*.onnx")
    for damage in (b"\0" * cached.stat().st_size, b"truncated"):  # same size but garbage; wrong size
        cached.write_bytes(damage)
        downloads = azurite.operations("Blob_Download")
        with TestClient(app_dir, settings=settings) as client:
            assert client.post("/api/add", json={"data": [1]}).json()["result"] == [[2.0]]
        assert azurite.operations("Blob_Download", downloads + 1) == downloads + 1


def test_missing_blob_is_503_then_served_once_uploaded_without_restart(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path
) -> None:
    container = azurite.container()
    assert run_cli("new", "late", "--model", f"az://{container}/late.onnx", "--app", app_dir).exit_code == 0
    settings = {"AzureWebJobsStorage": azurite.connection_string, "FUNNX_RETRY_AFTER_SECONDS": "0.3"}
    with TestClient(app_dir, settings=settings) as client:
        reply = client.post("/api/late", json={"data": [1]})
        assert reply.status_code == 503 and reply.headers["retry-after"] == "1"
        error = reply.json()["error"]
        assert "model 'late'" in error and f"az://{container}/late.onnx" in error and "BlobNotFound" in error
        azurite.upload(container, "late.onnx", add_one(tmp_path / "m.onnx").read_bytes())
        time.sleep(0.35)
        assert client.post("/api/late", json={"data": [1]}).status_code == 200


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


def test_wrong_account_key_is_503_and_never_shows_the_key(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blob_function(app_dir, azurite, "add", add_one(tmp_path / "m.onnx"))
    wrong_key = "V3J" + ACCOUNT_KEY[3:]
    bad = azurite.connection_string.replace(ACCOUNT_KEY, wrong_key)
    with caplog.at_level(logging.DEBUG), TestClient(app_dir, settings={"AzureWebJobsStorage": bad}) as client:
        reply = client.post("/api/add", json={"data": [1]})
    assert reply.status_code == 503
    assert "rejected the credentials from app setting AzureWebJobsStorage" in reply.json()["error"]
    for secret in (wrong_key, bad):
        assert secret not in reply.text and secret not in caplog.text


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
        expiry=datetime.now(timezone.utc) + timedelta(hours=1),
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
        expiry=datetime.now(timezone.utc) + timedelta(hours=1),
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


def test_32_concurrent_first_requests_cause_one_download_and_one_session(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blob_function(app_dir, azurite, "add", add_one(tmp_path / "m.onnx"))
    downloads = azurite.operations("Blob_Download")
    host = EmulatorHost(app_dir, settings={"AzureWebJobsStorage": azurite.connection_string})
    try:
        with (
            caplog.at_level(logging.INFO, logger="funnx"),
            BackgroundServer(host) as server,
            httpx.Client() as http,
            ThreadPoolExecutor(32) as pool,
        ):
            replies = list(
                pool.map(lambda i: http.post(f"{server.url}/api/add", json={"data": [i]}, timeout=60), range(32))
            )
    finally:
        host.close()
    assert [r.status_code for r in replies] == [200] * 32
    assert sorted(r.json()["result"][0][0] for r in replies) == [i + 1.0 for i in range(32)]
    assert azurite.operations("Blob_Download", downloads + 1) == downloads + 1
    assert sum("funnx model loaded" in r.getMessage() for r in caplog.records) == 1


def test_storage_outage_before_first_request_then_recovery(
    app_dir: Path, tmp_path: Path, azurite: AzuriteService
) -> None:
    """Storage down: fast 503s with Retry-After while the SDK retries in the background; storage back:
    served again with no app restart."""
    with Azurite(location=tmp_path / "azurite-data") as own:
        service = AzuriteService(own, tmp_path / "none.log")
        blob_function(app_dir, service, "add", add_one(tmp_path / "m.onnx"))
        own.stop()
        settings = {"AzureWebJobsStorage": own.connection_string, "FUNNX_RETRY_AFTER_SECONDS": "0.5"}
        with TestClient(app_dir, settings=settings) as client:
            for _ in range(3):  # no request waits for the storage SDK's whole retry budget
                started = time.monotonic()
                reply = client.post("/api/add", json={"data": [1]})
                assert reply.status_code == 503 and time.monotonic() - started < 2
                assert int(reply.headers["retry-after"]) >= 1
                assert "cannot reach storage" in reply.json()["error"], reply.json()
            own.start()
            deadline = time.monotonic() + 30
            while True:
                started = time.monotonic()
                reply = client.post("/api/add", json={"data": [1]})
                if reply.status_code == 200:
                    break
                assert reply.status_code == 503 and time.monotonic() - started < 2
                assert time.monotonic() < deadline, "not served again after storage came back"
                time.sleep(0.2)
            assert reply.json()["result"] == [[2.0]]


def test_a_blob_onnxruntime_rejects_is_not_downloaded_again_until_it_changes(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path
) -> None:
    container = azurite.container()
    azurite.upload(container, "m.onnx", b"not an onnx model" * 100)
    assert run_cli("new", "m", "--model", f"az://{container}/m.onnx", "--app", app_dir).exit_code == 0
    settings = {"AzureWebJobsStorage": azurite.connection_string, "FUNNX_RETRY_AFTER_SECONDS": "0.1"}
    with TestClient(app_dir, settings=settings) as client:
        first = client.post("/api/m", json={"data": [1]})
        assert first.status_code == 503 and "onnxruntime cannot load" in first.json()["error"]
        downloads = azurite.operations("Blob_Download")
        time.sleep(0.15)
        again = client.post("/api/m", json={"data": [1]})
        assert again.status_code == 503 and "upload a fixed model" in again.json()["error"]
        assert azurite.operations("Blob_Download", downloads) == downloads  # only a HEAD this time
        azurite.upload(container, "m.onnx", add_one(tmp_path / "m.onnx").read_bytes())
        time.sleep(0.15)
        assert client.post("/api/m", json={"data": [1]}).json()["result"] == [[2.0]]


def test_unusable_cache_folder_or_service_uri_is_a_503_naming_the_setting(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path
) -> None:
    blob_function(app_dir, azurite, "add", add_one(tmp_path / "m.onnx"))
    (tmp_path / "a-file").write_text("not a folder")
    settings = {"AzureWebJobsStorage": azurite.connection_string, "FUNNX_MODEL_CACHE_DIR": str(tmp_path / "a-file")}
    with TestClient(app_dir, settings=settings) as client:
        reply = client.post("/api/add", json={"data": [1]})
    assert reply.status_code == 503 and "set FUNNX_MODEL_CACHE_DIR to a writable folder" in reply.json()["error"]
    identity_settings = {"AzureWebJobsStorage": "", "AzureWebJobsStorage__serviceUri": azurite.azurite.blob_endpoint}
    with TestClient(app_dir, settings=identity_settings) as client:
        reply = client.post("/api/add", json={"data": [1]})
    assert reply.status_code == 503 and "AzureWebJobsStorage__serviceUri" in reply.json()["error"]
    assert "HTTPS" in reply.json()["error"]


def test_partial_downloads_abandoned_by_a_dead_worker_are_removed(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path, _private_model_cache: Path
) -> None:
    blob_function(app_dir, azurite, "add", add_one(tmp_path / "v1.onnx"))
    settings = {"AzureWebJobsStorage": azurite.connection_string}
    with TestClient(app_dir, settings=settings) as client:
        client.post("/api/add", json={"data": [1]})
    (cached,) = _private_model_cache.glob("*.onnx")
    key = cached.name.split("-")[0]
    stale, fresh = (
        _private_model_cache / f".{key}-0xOLD.onnx.dead.part",
        _private_model_cache / f".{key}-0xNEW.onnx.live.part",
    )
    for partial in (stale, fresh):
        partial.write_bytes(b"half a model")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    container = next(iter((app_dir / "functions_app" / "add.py").read_text().split("az://")[1:])).split("/")[0]
    azurite.upload(container, "add/model.onnx", add_one(tmp_path / "v2.onnx", 3.0).read_bytes())
    with TestClient(app_dir, settings=settings) as client:
        assert client.post("/api/add", json={"data": [1]}).json()["result"] == [[4.0]]
    assert not stale.exists() and fresh.exists()
