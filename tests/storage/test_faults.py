"""Storage faults against a real Azurite: outage; crash, freeze or new upload mid-download; deleted or
garbage blob; wrong account key; missing container.

What each fault must give (a clean 503, no secret shown, nothing bad cached, recovery without a
restart) and the setup they share are in conftest.py (fault_app, FaultApp).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

from framework.emulator import ClientResponse, TestClient
from framework.emulator.azurite import ACCOUNT, ACCOUNT_KEY
from framework.runtime import blobstore
from tests.conftest import AzuriteService, run_cli
from tests.models import add_one, mlp, run_direct
from tests.storage.conftest import ONE, RETRY_AFTER, FaultApp, FaultAppFactory, assert_unavailable, encodings

pytestmark = pytest.mark.storage

BIG_INPUT: dict[str, object] = {"data": [[0.1] * 256]}


def download_started(cache: Path) -> bool:
    """A partial download in ``cache`` has its first bytes (a file renamed meanwhile is skipped)."""
    for part in cache.glob(".*.part"):
        try:
            if part.stat().st_size > 0:
                return True
        except FileNotFoundError:
            continue
    return False


def test_storage_outage_before_first_request_then_recovery(
    fault_app: FaultAppFactory, own_azurite: AzuriteService, tmp_path: Path
) -> None:
    """Storage down: fast 503s with Retry-After while the SDK retries in the background; storage back:
    served again with no app restart."""
    model = add_one(tmp_path / "m.onnx")
    app = fault_app(model, storage=own_azurite)
    own_azurite.azurite.stop()
    with app.client() as client:
        for _ in range(3):  # no request waits for the storage SDK's whole retry budget
            started = time.monotonic()
            error = app.unavailable(client.post("/api/add", json=ONE))
            assert time.monotonic() - started < 2
            assert f"cannot reach storage at {own_azurite.azurite.blob_endpoint.rsplit('/', 1)[0]}" in error, error
        tensor = {"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}
        for reply in (  # the same 503 on every endpoint of the model: OIP inference, metadata, probes
            client.post("/api/v2/models/add/infer", json={"inputs": [tensor]}),
            client.get("/api/v2/models/add"),
            client.get("/api/v2/models/add/ready"),
            client.get("/api/add"),
        ):
            assert "cannot reach storage" in app.unavailable(reply)
        app.assert_cache_clean()
        own_azurite.azurite.start()
        assert app.served_again(client).json()["result"] == [[2.0]]
    app.assert_recovered_cleanly(model)
    assert len(list(app.cache.glob("*.onnx"))) == 1


@pytest.fixture(scope="module")
def big_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 71 MB model: its download lasts long enough to be cut."""
    return mlp(tmp_path_factory.mktemp("big") / "big.onnx", (256, 4096, 4096, 10))


@pytest.fixture
def big_blob(fault_app: FaultAppFactory, own_azurite: AzuriteService, big_model: Path) -> FaultApp:
    """Function 'big' reading ``big_model`` from a private Azurite (data on disk)."""
    app = fault_app(big_model, name="big", blob="big.onnx", storage=own_azurite)
    own_azurite.azurite.stop()  # a clean stop saves Azurite's metadata, so the blob survives the kill to come
    own_azurite.azurite.start()
    return app


def cut_download(
    cut: Callable[[], object], client: TestClient, cache: Path, answer_within: float = 10
) -> ClientResponse:
    """Send the first request, ``cut`` storage once its download is under way; the request's reply,
    which must come within ``answer_within`` seconds of the cut."""
    replies: list[ClientResponse] = []
    first = threading.Thread(target=lambda: replies.append(client.post("/api/big", json=BIG_INPUT)))
    first.start()
    deadline = time.monotonic() + 30
    while not download_started(cache):
        assert first.is_alive() and time.monotonic() < deadline, replies
        time.sleep(0.001)
    cut()
    assert list(cache.glob(".*.part")), "the download finished before storage was cut"
    first.join(timeout=answer_within)
    assert not first.is_alive(), "the request in flight hung"
    return replies[0]


def assert_served_big(reply: ClientResponse, model: Path) -> None:
    expected = np.asarray(run_direct(model, {"x": np.array(BIG_INPUT["data"], np.float32)})[0])
    assert np.allclose(reply.json()["result"][0], expected, rtol=1e-5)


def test_storage_killed_mid_download_then_restarted(big_blob: FaultApp, big_model: Path) -> None:
    """SIGKILL while a 71 MB model streams in; Azurite back on the same port and data: the download
    resumes or restarts, and the model served is byte-identical to the blob."""
    app, own = big_blob, big_blob.storage.azurite
    with app.client() as client:
        started = time.monotonic()
        first = cut_download(own.kill, client, app.cache)
        assert time.monotonic() - started < 5  # answered as soon as the SDK started retrying
        assert "cannot reach storage" in app.unavailable(first)
        for _ in range(3):
            app.unavailable(client.post("/api/big", json=BIG_INPUT))
            assert not list(app.cache.glob("*.onnx"))  # nothing published from a cut download
        own.start()
        assert_served_big(app.served_again(client, BIG_INPUT), big_model)
    app.assert_recovered_cleanly(big_model)
    assert len(list(app.cache.glob("*.onnx"))) == 1


def test_storage_frozen_mid_download_answers_503_within_the_load_wait_then_resumes(
    big_blob: FaultApp, big_model: Path
) -> None:
    """SIGSTOP mid-download: connections stay open and silent, so no retry starts before the read
    timeout (blobstore.READ_TIMEOUT_SECONDS). Requests wait at most FUNNX_LOAD_WAIT_SECONDS, probes
    about a second, both answered 503 naming the model and the source; once storage resumes, the same
    download completes."""
    app, own = big_blob, big_blob.storage.azurite
    with app.client(FUNNX_RETRY_AFTER_SECONDS=None, FUNNX_LOAD_WAIT_SECONDS="5") as client:
        started = time.monotonic()
        first = cut_download(lambda: own.signal(signal.SIGSTOP), client, app.cache)
        assert time.monotonic() - started < 5 + 4  # the load wait, and room for a slow machine
        assert "is loading" in app.unavailable(first)
        started = time.monotonic()
        probe = client.get("/api/big")
        assert time.monotonic() - started < 2 and probe.json()["state"] == "loading"
        assert "is loading" in app.unavailable(probe)
        own.signal(signal.SIGCONT)
        assert_served_big(app.served_again(client, BIG_INPUT), big_model)
    app.assert_recovered_cleanly(big_model)


@pytest.mark.long
def test_storage_frozen_for_longer_than_the_read_timeout_is_retried_not_waited_on(
    big_blob: FaultApp, big_model: Path
) -> None:
    """With the default load wait (200 s), a stalled read fails at the read timeout and the retry
    that follows turns waiting requests into 503s; storage thawed, the model is served."""
    app, own = big_blob, big_blob.storage.azurite
    with app.client(FUNNX_RETRY_AFTER_SECONDS=None) as client:
        wait = blobstore.READ_TIMEOUT_SECONDS + 30  # the read timeout, then the retry's first 503
        first = cut_download(lambda: own.signal(signal.SIGSTOP), client, app.cache, wait)
        app.unavailable(first)
        own.signal(signal.SIGCONT)
        assert_served_big(app.served_again(client, BIG_INPUT), big_model)
    app.assert_cache_clean(big_model)


def test_blob_replaced_mid_download_is_503_then_the_new_version_is_served(
    big_blob: FaultApp, big_model: Path, tmp_path: Path
) -> None:
    """A new upload while the first load streams the old version: the download (pinned to the ETag it
    started with) fails, nothing mixed is kept, and the next load gets the new version."""
    app = big_blob
    small = mlp(tmp_path / "small.onnx", (256, 10))
    for _ in range(3):
        with app.client() as client:
            first = cut_download(
                lambda: app.storage.upload(app.container, "big.onnx", small.read_bytes()), client, app.cache
            )
            if first.status_code == 200:
                # On a busy machine the last chunk can arrive before the upload lands (the partial file
                # then still exists while it is verified): the old version, served whole. Set up again.
                assert_served_big(first, big_model)
                app.storage.upload(app.container, "big.onnx", big_model.read_bytes())
                for kept in app.cache.iterdir():
                    kept.unlink()
                continue
            assert "the blob changed during the download" in app.unavailable(first)
            app.assert_cache_clean()
            time.sleep(RETRY_AFTER)  # the failure window itself: the next request after it loads again
            assert_served_big(client.post("/api/big", json=BIG_INPUT), small)
            break
    else:
        pytest.fail("three times the download finished before the new upload landed")
    app.assert_recovered_cleanly(small)


@pytest.mark.long
def test_storage_killed_mid_download_stays_down_until_the_load_gives_up(big_blob: FaultApp, big_model: Path) -> None:
    """Azurite killed mid-download and down past the SDK's retry budget (~35 s measured): the load
    fails, its partial file is removed, and the next load after the restart serves the model."""
    app, own = big_blob, big_blob.storage.azurite
    with app.client(FUNNX_RETRY_AFTER_SECONDS="5") as client:
        cut_download(own.kill, client, app.cache)
        deadline = time.monotonic() + 90
        while True:
            reply = client.post("/api/big", json=BIG_INPUT)
            error = app.unavailable(reply)
            if reply.json()["state"] == "failed":
                break
            assert time.monotonic() < deadline, "the load never gave up"
            time.sleep(0.5)
        assert f"downloading {app.source} failed: cannot reach storage" in error, error
        assert list(app.cache.iterdir()) == []  # the partial download is gone
        own.start()
        assert_served_big(app.served_again(client, BIG_INPUT), big_model)
    app.assert_recovered_cleanly(big_model)


def _delete(azurite: AzuriteService, container: str, blob: str) -> None:
    from azure.storage.blob import BlobServiceClient

    BlobServiceClient.from_connection_string(azurite.connection_string).get_blob_client(container, blob).delete_blob()


def test_blob_deleted_before_the_first_load_is_503_then_served_once_uploaded(
    fault_app: FaultAppFactory, tmp_path: Path
) -> None:
    model = add_one(tmp_path / "m.onnx")
    app = fault_app(model)
    _delete(app.storage, app.container, "add/model.onnx")
    with app.client() as client:
        error = app.unavailable(client.post("/api/add", json=ONE))
        assert "not found (BlobNotFound); upload the model or fix the source" in error, error
        assert client.get("/api/add").json()["state"] == "failed"
        app.assert_cache_clean()
        app.storage.upload(app.container, "add/model.onnx", model.read_bytes())
        time.sleep(RETRY_AFTER)  # the failure window itself: the next request after it loads again
        assert client.post("/api/add", json=ONE).json()["result"] == [[2.0]]
    app.assert_recovered_cleanly(model)


def _served_through(client: TestClient, seconds: float, expected: list[list[float]]) -> int:
    """Requests for ``seconds``: every one must be a 200 with ``expected``; returns how many."""
    count, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        reply = client.post("/api/add", json=ONE)
        assert reply.status_code == 200 and reply.json()["result"] == expected, reply
        count += 1
    return count


@pytest.mark.parametrize("fault", ["deleted", "garbage"])
def test_a_served_model_keeps_its_session_when_refresh_finds_the_blob_deleted_or_garbage(
    fault: str, fault_app: FaultAppFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With refresh on, a blob deleted or overwritten with non-ONNX bytes never replaces the working
    session; a garbage version is downloaded once, never cached; a good upload is swapped in."""
    v1, v2 = add_one(tmp_path / "v1.onnx", 1.0), add_one(tmp_path / "v2.onnx", 10.0)
    app = fault_app(v1)
    storage = app.storage
    with app.client(FUNNX_RETRY_AFTER_SECONDS=None, FUNNX_ADD_REFRESH_SECONDS="0.1") as client:
        assert client.post("/api/add", json=ONE).json()["result"] == [[2.0]]
        downloads = storage.operations("Blob_Download")
        if fault == "deleted":
            _delete(storage, app.container, "add/model.onnx")
        else:
            storage.upload(app.container, "add/model.onnx", b"\x08\x07garbage, not ONNX" * 500)
        assert _served_through(client, 1.0, [[2.0]]) > 0  # ~10 refresh checks, each of them failing
        assert client.get("/api/add").json()["state"] == "ready"
        expected = "not found (BlobNotFound)" if fault == "deleted" else "onnxruntime cannot load"
        failures = [r.getMessage() for r in caplog.records if "refresh failed" in r.getMessage()]
        assert failures and all("still serving" in m and expected in m for m in failures), failures[:3]
        # a garbage version is downloaded once (then known bad), never kept in the cache
        assert storage.operations("Blob_Download") == downloads + (fault == "garbage")
        app.assert_cache_clean(v1)
        storage.upload(app.container, "add/model.onnx", v2.read_bytes())
        deadline = time.monotonic() + 10
        while (reply := client.post("/api/add", json=ONE)).json()["result"] != [[11.0]]:
            assert reply.status_code == 200 and reply.json()["result"] == [[2.0]]
            assert time.monotonic() < deadline, "the repaired blob was never swapped in"
    app.assert_recovered_cleanly(v2)


def test_garbage_blob_on_first_load_is_a_clear_503_and_not_downloaded_again_until_it_changes(
    fault_app: FaultAppFactory, tmp_path: Path
) -> None:
    app = fault_app(b"not an onnx model" * 100, name="m", blob="m.onnx")
    storage = app.storage
    with app.client() as client:
        error = app.unavailable(client.post("/api/m", json=ONE))
        assert f"onnxruntime cannot load {app.source}" in error, error
        app.assert_cache_clean()
        assert not list(app.cache.glob("*.onnx"))
        downloads = storage.operations("Blob_Download")
        time.sleep(RETRY_AFTER)  # the failure window itself: the next request after it tries again
        again = app.unavailable(client.post("/api/m", json=ONE))
        assert "upload a fixed model" in again, again
        assert storage.operations("Blob_Download", downloads) == downloads  # only a HEAD this time
        model = add_one(tmp_path / "m.onnx")
        storage.upload(app.container, "m.onnx", model.read_bytes())
        time.sleep(RETRY_AFTER)
        assert client.post("/api/m", json=ONE).json()["result"] == [[2.0]]
    app.assert_recovered_cleanly(model)


def test_wrong_account_key_is_503_never_shows_the_key_and_recovers_when_fixed(
    fault_app: FaultAppFactory, tmp_path: Path
) -> None:
    model = add_one(tmp_path / "m.onnx")
    app = fault_app(model)
    wrong_key = "V3J" + ACCOUNT_KEY[3:]
    bad = app.storage.connection_string.replace(ACCOUNT_KEY, wrong_key)
    app.secrets |= encodings(wrong_key, bad)
    with app.client(AzureWebJobsStorage=bad) as client:
        error = app.unavailable(client.post("/api/add", json=ONE))
        assert "rejected the credentials from app setting AzureWebJobsStorage" in error, error
        app.assert_cache_clean()
        client.host.set_settings({"AzureWebJobsStorage": app.storage.connection_string})  # the setting is fixed
        time.sleep(RETRY_AFTER)  # the failure window itself: the next request after it loads again
        assert client.post("/api/add", json=ONE).json()["result"] == [[2.0]]
    app.assert_recovered_cleanly(model)


def test_missing_container_is_503_then_served_once_created(fault_app: FaultAppFactory, tmp_path: Path) -> None:
    """Both for az:// with a connection string and for an https URL with a SAS token in a setting."""
    from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas

    model = add_one(tmp_path / "m.onnx")
    container = f"absent-{time.monotonic_ns()}"
    app = fault_app(None, name="conn", blob="m.onnx", container=container)
    token = generate_blob_sas(
        ACCOUNT, container, "m.onnx", account_key=ACCOUNT_KEY, permission=BlobSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )  # fmt: skip
    url = f"{app.storage.azurite.blob_endpoint}/{container}/m.onnx"
    assert run_cli("new", "sas", "--model", url, "--connection", "MODEL_SAS", "--app", app.app_dir).exit_code == 0
    app.secrets |= encodings(token, unquote(token.split("sig=")[1].split("&")[0]))
    with app.client(MODEL_SAS=token) as client:
        for name, source in (("conn", app.source), ("sas", url)):
            error = assert_unavailable(client.post(f"/api/{name}", json=ONE), name, source, app.secrets)
            assert "not found (ContainerNotFound)" in error, error
        app.assert_cache_clean()
        BlobServiceClient.from_connection_string(app.storage.connection_string).create_container(container)
        app.storage.upload(container, "m.onnx", model.read_bytes())
        time.sleep(RETRY_AFTER)  # the failure window itself: the next request after it loads again
        for name in ("conn", "sas"):
            assert client.post(f"/api/{name}", json=ONE).json()["result"] == [[2.0]]
    app.assert_recovered_cleanly(model)
