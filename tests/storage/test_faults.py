"""Storage faults against a real Azurite: outage; crash, freeze or new upload mid-download; deleted or
garbage blob; wrong account key; missing container.

Each fault must give a 503 with Retry-After whose JSON error names the model and its source and never a
secret (the response body, the logs and the console are grepped for the real key, connection string
and SAS signature), leave nothing partial or corrupt in the model cache, and end without a restart:
once storage is repaired, requests are served again.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np
import pytest

from framework.emulator import ClientResponse, TestClient
from framework.emulator.azurite import ACCOUNT, ACCOUNT_KEY, Azurite
from framework.emulator.host import EmulatorHost
from framework.runtime import blobstore
from tests.conftest import AzuriteService, run_cli
from tests.models import add_one, mlp, run_direct
from tests.storage.test_blob_models import blob_function

pytestmark = pytest.mark.storage

ONE: dict[str, object] = {"data": [1]}
BIG_INPUT: dict[str, object] = {"data": [[0.1] * 256]}
RETRY_AFTER = 0.3  # FUNNX_RETRY_AFTER_SECONDS in these tests: a failure is remembered this long


@pytest.fixture(autouse=True)
def _azure_logs_at_debug() -> Iterator[None]:
    """Let every azure SDK record through (an in-process `funnx start` elsewhere may have set WARNING),
    so the secret checks below see what a DEBUG-level deployment would log."""
    azure = logging.getLogger("azure")
    level = azure.level
    azure.setLevel(logging.DEBUG)
    yield
    azure.setLevel(level)


def download_started(cache: Path) -> bool:
    """A partial download in ``cache`` has its first bytes (a file renamed meanwhile is skipped)."""
    for part in cache.glob(".*.part"):
        try:
            if part.stat().st_size > 0:
                return True
        except FileNotFoundError:
            continue
    return False


def encodings(*secrets: str) -> set[str]:
    """Each secret as it could appear: raw and URL-quoted."""
    return {shown for secret in secrets for shown in (secret, quote(secret, safe=""), quote(secret))}


def assert_unavailable(reply: ClientResponse, model: str, source: str, secrets: Iterable[str]) -> str:
    """A 503 with Retry-After whose JSON error names the model and the source and shows no secret."""
    assert reply.status_code == 503, reply
    assert int(reply.headers["retry-after"]) >= 1
    assert reply.headers["content-type"] == "application/json"
    error: str = reply.json()["error"]
    assert f"model '{model}'" in error and source in error, error
    for secret in secrets:
        assert secret not in reply.text, "a secret reached the response"
    return error


def assert_quiet(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], secrets: Iterable[str]) -> None:
    """No secret in any log record (DEBUG and up, every logger) nor on stdout/stderr."""
    captured = capfd.readouterr()
    for secret in secrets:
        for where, text in (("logs", caplog.text), ("stdout", captured.out), ("stderr", captured.err)):
            assert secret not in text, f"a secret reached the {where}"


def assert_cache_clean(cache: Path, *good: Path) -> None:
    """No partial download or other stray file: every cached model byte-identical to a good one."""
    wanted = {model.read_bytes() for model in good}
    for path in cache.iterdir() if cache.exists() else ():
        if path.suffix == ".last":
            continue  # the name of the file a source loaded last, not a model
        assert path.suffix == ".onnx" and not path.name.startswith("."), f"{path.name} left in the cache"
        assert path.read_bytes() in wanted, f"{path.name} is not a good model"


def served_again(
    client: TestClient, model: str, source: str, secrets: set[str], body: dict[str, object] = ONE
) -> ClientResponse:
    """Poll until ``model`` answers 200; meanwhile every answer must be a fast, well-formed 503."""
    deadline = time.monotonic() + 40
    while True:
        started = time.monotonic()
        reply = client.post(f"/api/{model}", json=body)
        if reply.status_code == 200:
            return reply
        assert_unavailable(reply, model, source, secrets)
        assert time.monotonic() - started < 2, "a request waited for the storage SDK's retries"
        assert time.monotonic() < deadline, "not served again after storage was repaired"
        time.sleep(0.2)


def test_storage_outage_before_first_request_then_recovery(
    app_dir: Path,
    tmp_path: Path,
    _private_model_cache: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Storage down: fast 503s with Retry-After while the SDK retries in the background; storage back:
    served again with no app restart."""
    model = add_one(tmp_path / "m.onnx")
    with Azurite(location=tmp_path / "azurite-data") as own:
        container = blob_function(app_dir, AzuriteService(own, tmp_path / "none.log"), "add", model)
        source, secrets = f"az://{container}/add/model.onnx", encodings(own.connection_string, ACCOUNT_KEY)
        own.stop()
        settings = {"AzureWebJobsStorage": own.connection_string, "FUNNX_RETRY_AFTER_SECONDS": str(RETRY_AFTER)}
        with caplog.at_level(logging.DEBUG), TestClient(app_dir, settings=settings) as client:
            for _ in range(3):  # no request waits for the storage SDK's whole retry budget
                started = time.monotonic()
                error = assert_unavailable(client.post("/api/add", json=ONE), "add", source, secrets)
                assert time.monotonic() - started < 2
                assert f"cannot reach storage at {own.blob_endpoint.rsplit('/', 1)[0]}" in error, error
            tensor = {"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}
            for reply in (  # the same 503 on every endpoint of the model: OIP inference, metadata, probes
                client.post("/api/v2/models/add/infer", json={"inputs": [tensor]}),
                client.get("/api/v2/models/add"),
                client.get("/api/v2/models/add/ready"),
                client.get("/api/add"),
            ):
                assert "cannot reach storage" in assert_unavailable(reply, "add", source, secrets)
            assert_cache_clean(_private_model_cache)
            own.start()
            assert served_again(client, "add", source, secrets).json()["result"] == [[2.0]]
    assert_cache_clean(_private_model_cache, model)
    assert len(list(_private_model_cache.glob("*.onnx"))) == 1
    assert_quiet(caplog, capfd, secrets)


@pytest.fixture(scope="module")
def big_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 71 MB model: its download lasts long enough to be cut."""
    return mlp(tmp_path_factory.mktemp("big") / "big.onnx", (256, 4096, 4096, 10))


@pytest.fixture
def big_blob(app_dir: Path, tmp_path: Path, big_model: Path) -> Iterator[tuple[Azurite, str]]:
    """A private Azurite (data on disk) holding ``big_model``, and function 'big' reading it."""
    own = Azurite(location=tmp_path / "azurite-data").start()
    try:
        service = AzuriteService(own, tmp_path / "none.log")
        container = service.container()
        service.upload(container, "big.onnx", big_model.read_bytes())
        own.stop()  # a clean stop saves Azurite's metadata, so the blob survives the kill to come
        own.start()
        assert run_cli("new", "big", "--model", f"az://{container}/big.onnx", "--app", app_dir).exit_code == 0
        yield own, f"az://{container}/big.onnx"
    finally:
        own.signal(signal.SIGCONT)  # in case a test failed while Azurite was frozen
        own.stop()


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


def test_storage_killed_mid_download_then_restarted(
    app_dir: Path,
    big_blob: tuple[Azurite, str],
    big_model: Path,
    _private_model_cache: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """SIGKILL while a 71 MB model streams in; Azurite back on the same port and data: the download
    resumes or restarts, and the model served is byte-identical to the blob."""
    own, source = big_blob
    secrets = encodings(own.connection_string, ACCOUNT_KEY)
    settings = {"AzureWebJobsStorage": own.connection_string, "FUNNX_RETRY_AFTER_SECONDS": str(RETRY_AFTER)}
    with caplog.at_level(logging.DEBUG), TestClient(app_dir, settings=settings) as client:
        started = time.monotonic()
        first = cut_download(own.kill, client, _private_model_cache)
        assert time.monotonic() - started < 5  # answered as soon as the SDK started retrying
        assert "cannot reach storage" in assert_unavailable(first, "big", source, secrets)
        for _ in range(3):
            assert_unavailable(client.post("/api/big", json=BIG_INPUT), "big", source, secrets)
            assert not list(_private_model_cache.glob("*.onnx"))  # nothing published from a cut download
        own.start()
        assert_served_big(served_again(client, "big", source, secrets, BIG_INPUT), big_model)
    assert_cache_clean(_private_model_cache, big_model)
    assert len(list(_private_model_cache.glob("*.onnx"))) == 1
    assert_quiet(caplog, capfd, secrets)


def test_storage_frozen_mid_download_answers_503_within_the_load_wait_then_resumes(
    app_dir: Path,
    big_blob: tuple[Azurite, str],
    big_model: Path,
    _private_model_cache: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """SIGSTOP mid-download: connections stay open and silent, so no retry starts before the read
    timeout (blobstore.READ_TIMEOUT_SECONDS). Requests wait at most FUNNX_LOAD_WAIT_SECONDS, probes
    about a second, both answered 503 naming the model and the source; once storage resumes, the same
    download completes."""
    own, source = big_blob
    secrets = encodings(own.connection_string, ACCOUNT_KEY)
    settings = {"AzureWebJobsStorage": own.connection_string, "FUNNX_LOAD_WAIT_SECONDS": "5"}
    with caplog.at_level(logging.DEBUG), TestClient(app_dir, settings=settings) as client:
        started = time.monotonic()
        first = cut_download(lambda: own.signal(signal.SIGSTOP), client, _private_model_cache)
        assert time.monotonic() - started < 5 + 4  # the load wait, and room for a slow machine
        assert "is loading" in assert_unavailable(first, "big", source, secrets)
        started = time.monotonic()
        probe = client.get("/api/big")
        assert time.monotonic() - started < 2 and probe.json()["state"] == "loading"
        assert "is loading" in assert_unavailable(probe, "big", source, secrets)
        own.signal(signal.SIGCONT)
        assert_served_big(served_again(client, "big", source, secrets, BIG_INPUT), big_model)
    assert_cache_clean(_private_model_cache, big_model)
    assert_quiet(caplog, capfd, secrets)


@pytest.mark.long
def test_storage_frozen_for_longer_than_the_read_timeout_is_retried_not_waited_on(
    app_dir: Path, big_blob: tuple[Azurite, str], big_model: Path, _private_model_cache: Path
) -> None:
    """With the default load wait (200 s), a stalled read fails at the read timeout and the retry
    that follows turns waiting requests into 503s; storage thawed, the model is served."""
    own, source = big_blob
    secrets = encodings(own.connection_string, ACCOUNT_KEY)
    with TestClient(app_dir, settings={"AzureWebJobsStorage": own.connection_string}) as client:
        wait = blobstore.READ_TIMEOUT_SECONDS + 30  # the read timeout, then the retry's first 503
        first = cut_download(lambda: own.signal(signal.SIGSTOP), client, _private_model_cache, wait)
        assert_unavailable(first, "big", source, secrets)
        own.signal(signal.SIGCONT)
        assert_served_big(served_again(client, "big", source, secrets, BIG_INPUT), big_model)
    assert_cache_clean(_private_model_cache, big_model)


def test_blob_replaced_mid_download_is_503_then_the_new_version_is_served(
    app_dir: Path,
    big_blob: tuple[Azurite, str],
    tmp_path: Path,
    _private_model_cache: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A new upload while the first load streams the old version: the download (pinned to the ETag it
    started with) fails, nothing mixed is kept, and the next load gets the new version."""
    own, source = big_blob
    secrets = encodings(own.connection_string, ACCOUNT_KEY)
    small = mlp(tmp_path / "small.onnx", (256, 10))
    container = source.split("/")[2]
    settings = {"AzureWebJobsStorage": own.connection_string, "FUNNX_RETRY_AFTER_SECONDS": str(RETRY_AFTER)}
    with caplog.at_level(logging.DEBUG), TestClient(app_dir, settings=settings) as client:
        service = AzuriteService(own, tmp_path / "none.log")
        first = cut_download(
            lambda: service.upload(container, "big.onnx", small.read_bytes()), client, _private_model_cache
        )
        assert "the blob changed during the download" in assert_unavailable(first, "big", source, secrets)
        assert_cache_clean(_private_model_cache)
        time.sleep(RETRY_AFTER)
        assert_served_big(client.post("/api/big", json=BIG_INPUT), small)
    assert_cache_clean(_private_model_cache, small)
    assert_quiet(caplog, capfd, secrets)


@pytest.mark.long
def test_storage_killed_mid_download_stays_down_until_the_load_gives_up(
    app_dir: Path,
    big_blob: tuple[Azurite, str],
    big_model: Path,
    _private_model_cache: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Azurite killed mid-download and down past the SDK's retry budget (~35 s measured): the load
    fails, its partial file is removed, and the next load after the restart serves the model."""
    own, source = big_blob
    secrets = encodings(own.connection_string, ACCOUNT_KEY)
    settings = {"AzureWebJobsStorage": own.connection_string, "FUNNX_RETRY_AFTER_SECONDS": "5"}
    with caplog.at_level(logging.DEBUG), TestClient(app_dir, settings=settings) as client:
        cut_download(own.kill, client, _private_model_cache)
        deadline = time.monotonic() + 90
        while True:
            reply = client.post("/api/big", json=BIG_INPUT)
            error = assert_unavailable(reply, "big", source, secrets)
            if reply.json()["state"] == "failed":
                break
            assert time.monotonic() < deadline, "the load never gave up"
            time.sleep(0.5)
        assert f"downloading {source} failed: cannot reach storage" in error, error
        assert list(_private_model_cache.iterdir()) == []  # the partial download is gone
        own.start()
        assert_served_big(served_again(client, "big", source, secrets, BIG_INPUT), big_model)
    assert_cache_clean(_private_model_cache, big_model)
    assert_quiet(caplog, capfd, secrets)


def _delete(azurite: AzuriteService, container: str, blob: str) -> None:
    from azure.storage.blob import BlobServiceClient

    BlobServiceClient.from_connection_string(azurite.connection_string).get_blob_client(container, blob).delete_blob()


def test_blob_deleted_before_the_first_load_is_503_then_served_once_uploaded(
    app_dir: Path,
    azurite: AzuriteService,
    tmp_path: Path,
    _private_model_cache: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    model = add_one(tmp_path / "m.onnx")
    container = blob_function(app_dir, azurite, "add", model)
    _delete(azurite, container, "add/model.onnx")
    source, secrets = f"az://{container}/add/model.onnx", encodings(azurite.connection_string, ACCOUNT_KEY)
    settings = {"AzureWebJobsStorage": azurite.connection_string, "FUNNX_RETRY_AFTER_SECONDS": str(RETRY_AFTER)}
    with caplog.at_level(logging.DEBUG), TestClient(app_dir, settings=settings) as client:
        error = assert_unavailable(client.post("/api/add", json=ONE), "add", source, secrets)
        assert "not found (BlobNotFound); upload the model or fix the source" in error, error
        assert client.get("/api/add").json()["state"] == "failed"
        assert_cache_clean(_private_model_cache)
        azurite.upload(container, "add/model.onnx", model.read_bytes())
        time.sleep(RETRY_AFTER)
        assert client.post("/api/add", json=ONE).json()["result"] == [[2.0]]  # the next request loads it
    assert_cache_clean(_private_model_cache, model)
    assert_quiet(caplog, capfd, secrets)


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
    fault: str,
    app_dir: Path,
    azurite: AzuriteService,
    tmp_path: Path,
    _private_model_cache: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """With refresh on, a blob deleted or overwritten with non-ONNX bytes never replaces the working
    session; a garbage version is downloaded once, never cached; a good upload is swapped in."""
    v1, v2 = add_one(tmp_path / "v1.onnx", 1.0), add_one(tmp_path / "v2.onnx", 10.0)
    container = blob_function(app_dir, azurite, "add", v1)
    secrets = encodings(azurite.connection_string, ACCOUNT_KEY)
    settings = {"AzureWebJobsStorage": azurite.connection_string, "FUNNX_ADD_REFRESH_SECONDS": "0.1"}
    with caplog.at_level(logging.DEBUG), TestClient(app_dir, settings=settings) as client:
        assert client.post("/api/add", json=ONE).json()["result"] == [[2.0]]
        downloads = azurite.operations("Blob_Download")
        if fault == "deleted":
            _delete(azurite, container, "add/model.onnx")
        else:
            azurite.upload(container, "add/model.onnx", b"\x08\x07garbage, not ONNX" * 500)
        assert _served_through(client, 1.0, [[2.0]]) > 0  # ~10 refresh checks, each of them failing
        assert client.get("/api/add").json()["state"] == "ready"
        expected = "not found (BlobNotFound)" if fault == "deleted" else "onnxruntime cannot load"
        failures = [r.getMessage() for r in caplog.records if "refresh failed" in r.getMessage()]
        assert failures and all("still serving" in m and expected in m for m in failures), failures[:3]
        # a garbage version is downloaded once (then known bad), never kept in the cache
        assert azurite.operations("Blob_Download") == downloads + (fault == "garbage")
        assert_cache_clean(_private_model_cache, v1)
        azurite.upload(container, "add/model.onnx", v2.read_bytes())
        deadline = time.monotonic() + 10
        while (reply := client.post("/api/add", json=ONE)).json()["result"] != [[11.0]]:
            assert reply.status_code == 200 and reply.json()["result"] == [[2.0]]
            assert time.monotonic() < deadline, "the repaired blob was never swapped in"
    assert_cache_clean(_private_model_cache, v2)
    assert_quiet(caplog, capfd, secrets)


def test_garbage_blob_on_first_load_is_a_clear_503_and_not_downloaded_again_until_it_changes(
    app_dir: Path,
    azurite: AzuriteService,
    tmp_path: Path,
    _private_model_cache: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    container = azurite.container()
    azurite.upload(container, "m.onnx", b"not an onnx model" * 100)
    source, secrets = f"az://{container}/m.onnx", encodings(azurite.connection_string, ACCOUNT_KEY)
    assert run_cli("new", "m", "--model", source, "--app", app_dir).exit_code == 0
    settings = {"AzureWebJobsStorage": azurite.connection_string, "FUNNX_RETRY_AFTER_SECONDS": str(RETRY_AFTER)}
    with caplog.at_level(logging.DEBUG), TestClient(app_dir, settings=settings) as client:
        error = assert_unavailable(client.post("/api/m", json=ONE), "m", source, secrets)
        assert f"onnxruntime cannot load {source}" in error, error
        assert_cache_clean(_private_model_cache)
        assert not list(_private_model_cache.glob("*.onnx"))
        downloads = azurite.operations("Blob_Download")
        time.sleep(RETRY_AFTER)
        again = assert_unavailable(client.post("/api/m", json=ONE), "m", source, secrets)
        assert "upload a fixed model" in again, again
        assert azurite.operations("Blob_Download", downloads) == downloads  # only a HEAD this time
        model = add_one(tmp_path / "m.onnx")
        azurite.upload(container, "m.onnx", model.read_bytes())
        time.sleep(RETRY_AFTER)
        assert client.post("/api/m", json=ONE).json()["result"] == [[2.0]]
    assert_cache_clean(_private_model_cache, model)
    assert_quiet(caplog, capfd, secrets)


def test_wrong_account_key_is_503_never_shows_the_key_and_recovers_when_fixed(
    app_dir: Path,
    azurite: AzuriteService,
    tmp_path: Path,
    _private_model_cache: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    model = add_one(tmp_path / "m.onnx")
    container = blob_function(app_dir, azurite, "add", model)
    wrong_key = "V3J" + ACCOUNT_KEY[3:]
    bad = azurite.connection_string.replace(ACCOUNT_KEY, wrong_key)
    source, secrets = f"az://{container}/add/model.onnx", encodings(wrong_key, bad, ACCOUNT_KEY)
    host = EmulatorHost(app_dir, settings={"AzureWebJobsStorage": bad, "FUNNX_RETRY_AFTER_SECONDS": str(RETRY_AFTER)})
    try:
        with caplog.at_level(logging.DEBUG), TestClient(host=host) as client:
            error = assert_unavailable(client.post("/api/add", json=ONE), "add", source, secrets)
            assert "rejected the credentials from app setting AzureWebJobsStorage" in error, error
            assert_cache_clean(_private_model_cache)
            host.set_settings({"AzureWebJobsStorage": azurite.connection_string})  # the setting is fixed
            time.sleep(RETRY_AFTER)
            assert client.post("/api/add", json=ONE).json()["result"] == [[2.0]]
    finally:
        host.close()
    assert_cache_clean(_private_model_cache, model)
    assert_quiet(caplog, capfd, secrets)


def test_missing_container_is_503_then_served_once_created(
    app_dir: Path,
    azurite: AzuriteService,
    tmp_path: Path,
    _private_model_cache: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Both for az:// with a connection string and for an https URL with a SAS token in a setting."""
    from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas

    model = add_one(tmp_path / "m.onnx")
    container = f"absent-{time.monotonic_ns()}"
    token = generate_blob_sas(
        ACCOUNT, container, "m.onnx", account_key=ACCOUNT_KEY, permission=BlobSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )  # fmt: skip
    url = f"{azurite.azurite.blob_endpoint}/{container}/m.onnx"
    assert run_cli("new", "conn", "--model", f"az://{container}/m.onnx", "--app", app_dir).exit_code == 0
    assert run_cli("new", "sas", "--model", url, "--connection", "MODEL_SAS", "--app", app_dir).exit_code == 0
    secrets = encodings(azurite.connection_string, ACCOUNT_KEY, token, unquote(token.split("sig=")[1].split("&")[0]))
    settings = {
        "AzureWebJobsStorage": azurite.connection_string,
        "MODEL_SAS": token,
        "FUNNX_RETRY_AFTER_SECONDS": str(RETRY_AFTER),
    }
    with caplog.at_level(logging.DEBUG), TestClient(app_dir, settings=settings) as client:
        for name, source in (("conn", f"az://{container}/m.onnx"), ("sas", url)):
            error = assert_unavailable(client.post(f"/api/{name}", json=ONE), name, source, secrets)
            assert "not found (ContainerNotFound)" in error, error
        assert_cache_clean(_private_model_cache)
        BlobServiceClient.from_connection_string(azurite.connection_string).create_container(container)
        azurite.upload(container, "m.onnx", model.read_bytes())
        time.sleep(RETRY_AFTER)
        for name in ("conn", "sas"):
            assert client.post(f"/api/{name}", json=ONE).json()["result"] == [[2.0]]
    assert_cache_clean(_private_model_cache, model)
    assert_quiet(caplog, capfd, secrets)
