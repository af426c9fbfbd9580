"""The storage-fault setup in one place: a function of a scaffolded app reading a blob from a real Azurite
(the session's or a private one that a test can stop, kill or freeze), and what every fault test checks.

Each fault must give a 503 with Retry-After whose JSON error names the model and its source and never a
secret (the response body, the logs and the console are grepped for the key, connection string and SAS
signature) and leave nothing partial or corrupt in the model cache; once storage is repaired, requests
are served again without a restart.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

from framework.emulator import ClientResponse, TestClient
from framework.emulator.azurite import ACCOUNT_KEY, Azurite
from tests.conftest import AzuriteService, run_cli

ONE: dict[str, object] = {"data": [1]}
RETRY_AFTER = 0.3  # FUNNX_RETRY_AFTER_SECONDS in the fault tests: a failure is remembered this long


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


def assert_cache_clean(cache: Path, *good: Path) -> None:
    """No partial download or other stray file: every cached model byte-identical to a good one."""
    wanted = {model.read_bytes() for model in good}
    for path in cache.iterdir() if cache.exists() else ():
        if path.suffix == ".last":
            continue  # the name of the file a source loaded last, not a model
        assert path.suffix == ".onnx" and not path.name.startswith("."), f"{path.name} left in the cache"
        assert path.read_bytes() in wanted, f"{path.name} is not a good model"


def wait_until(condition: Callable[[], object], what: str, timeout: float = 15, interval: float = 0.02) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` if it has not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(interval)


class FaultApp:
    """Function ``name`` of the app in ``app_dir``, reading ``source`` from ``storage``."""

    def __init__(
        self,
        app_dir: Path,
        storage: AzuriteService,
        name: str,
        source: str,
        cache: Path,
        caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        self.app_dir, self.storage, self.name, self.source = app_dir, storage, name, source
        self.container = source.split("/")[2]
        self.cache, self._caplog, self._capfd = cache, caplog, capfd
        self.secrets = encodings(storage.connection_string, ACCOUNT_KEY)
        #: what client() exports unless told otherwise
        self.settings = {
            "AzureWebJobsStorage": storage.connection_string,
            "FUNNX_RETRY_AFTER_SECONDS": str(RETRY_AFTER),
        }

    @contextmanager
    def client(self, **overrides: str | None) -> Iterator[TestClient]:
        """A TestClient with every log record captured at DEBUG; ``overrides`` change ``settings``
        (None drops one). ``client.host.set_settings`` changes them while it runs."""
        settings = {k: v for k, v in {**self.settings, **overrides}.items() if v is not None}
        with self._caplog.at_level(logging.DEBUG), TestClient(self.app_dir, settings=settings) as client:
            yield client

    def unavailable(self, reply: ClientResponse) -> str:
        """``reply`` is this function's well-formed 503 (see assert_unavailable); returns its error."""
        return assert_unavailable(reply, self.name, self.source, self.secrets)

    def served_again(self, client: TestClient, body: dict[str, object] = ONE) -> ClientResponse:
        """Poll until the function answers 200; meanwhile every answer must be a fast, well-formed 503."""
        deadline = time.monotonic() + 40
        while True:
            started = time.monotonic()
            reply = client.post(f"/api/{self.name}", json=body)
            if reply.status_code == 200:
                return reply
            self.unavailable(reply)
            assert time.monotonic() - started < 2, "a request waited for the storage SDK's retries"
            assert time.monotonic() < deadline, "not served again after storage was repaired"
            time.sleep(0.2)

    def assert_cache_clean(self, *good: Path) -> None:
        assert_cache_clean(self.cache, *good)

    def assert_quiet(self) -> None:
        """No secret in any log record (DEBUG and up, every logger) nor on stdout/stderr."""
        captured = self._capfd.readouterr()
        for secret in self.secrets:
            for where, text in (("logs", self._caplog.text), ("stdout", captured.out), ("stderr", captured.err)):
                assert secret not in text, f"a secret reached the {where}"

    def assert_recovered_cleanly(self, *good: Path) -> None:
        """What every fault test ends with: only good models cached, no secret anywhere."""
        self.assert_cache_clean(*good)
        self.assert_quiet()


FaultAppFactory = Callable[..., FaultApp]


@pytest.fixture
def _azure_logs_at_debug() -> Iterator[None]:
    """Let every azure SDK record through (an in-process `funnx start` elsewhere may have set WARNING),
    so the secret checks see what a DEBUG-level deployment would log."""
    azure = logging.getLogger("azure")
    level = azure.level
    azure.setLevel(logging.DEBUG)
    yield
    azure.setLevel(level)


@pytest.fixture
def own_azurite(tmp_path: Path) -> Iterator[AzuriteService]:
    """A private Azurite keeping its data on disk, so a test can stop, kill or freeze it and start it again."""
    own = Azurite(location=tmp_path / "azurite-data").start()
    try:
        yield AzuriteService(own, tmp_path / "no-debug.log")
    finally:
        own.signal(signal.SIGCONT)  # in case a test failed while Azurite was frozen
        own.stop()


@pytest.fixture
def fault_app(
    app_dir: Path,
    azurite: AzuriteService,
    _private_model_cache: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    _azure_logs_at_debug: None,
) -> FaultAppFactory:
    """``fault_app(model, name="add", blob=NAME/model.onnx, storage=azurite, container=None)``: scaffold
    function ``name`` reading ``az://CONTAINER/BLOB`` and upload ``model`` (a file or bytes; None uploads
    nothing) there, in a new container unless ``container`` names one (which need not exist)."""

    def make(
        model: Path | bytes | None,
        *,
        name: str = "add",
        blob: str | None = None,
        storage: AzuriteService = azurite,
        container: str | None = None,
    ) -> FaultApp:
        blob = blob or f"{name}/model.onnx"
        container = container or storage.container()
        if model is not None:
            storage.upload(container, blob, model if isinstance(model, bytes) else model.read_bytes())
        source = f"az://{container}/{blob}"
        result = run_cli("new", name, "--model", source, "--app", app_dir)
        assert result.exit_code == 0, result.output
        return FaultApp(app_dir, storage, name, source, _private_model_cache, caplog, capfd)

    return make
