"""Shared fixtures: a real Azurite per session, scaffolded apps, a private model cache per test."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from framework.cli.main import cli
from framework.emulator.azurite import Azurite


@pytest.fixture(autouse=True)
def _private_model_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own model cache, so no test sees another's downloads."""
    cache = tmp_path_factory.mktemp("model-cache")
    monkeypatch.setenv("FUNNX_MODEL_CACHE_DIR", str(cache))
    return cache


@contextmanager
def funnx_start(app: Path, *args: str, timeout: float = 60) -> Iterator[tuple[str, list[str]]]:
    """Run `funnx start --app APP ARGS`; yields (base URL, banner lines) and stops it with Ctrl+C."""
    process = subprocess.Popen(
        [sys.executable, "-m", "framework.cli.main", "start", "--app", str(app), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,  # its own group: killing it also kills a --reload child holding stdout
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    watchdog = threading.Timer(timeout, kill)  # a start that hangs silently ends the read below
    watchdog.start()
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            found = re.search(r"Listening on (http://\S+)", line)
            if found:
                break
        else:
            found = None
    finally:
        watchdog.cancel()
    if not found:
        kill()
        pytest.fail("funnx start did not start:\n" + "\n".join(lines))
    try:
        yield found.group(1), lines
    finally:
        process.send_signal(signal.SIGINT)
        try:
            rest, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # report it with the log (killing only the parent left a
            kill()  # --reload child holding stdout, and this read hung until pytest-timeout)
            rest, _ = process.communicate()
            rest += "\n[still running 60 s after Ctrl+C: killed]"
        lines += rest.splitlines()  # the rest of the log, for the test to read after the block
        assert process.returncode == 0, "\n".join(lines)


def find_python(version: str) -> str | None:
    """An interpreter for ``version`` (e.g. "3.13"): ``python3.13`` on PATH, or pyenv's."""
    import shutil

    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(pyenv.glob(f"{version}.*/bin/python"), reverse=True) if pyenv.is_dir() else []
    if candidates:
        return str(candidates[0])
    found = shutil.which(f"python{version}")
    return found if found and "/shims/" not in found else None


def run_cli(*args: str | os.PathLike[str]) -> Result:
    """Invoke ``funnx`` in-process, exactly as the console script does."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """A fresh app made by ``funnx init``."""
    app = tmp_path / "app"
    result = run_cli("init", app)
    assert result.exit_code == 0, result.output
    return app


class AzuriteService:
    """A running Azurite plus helpers to upload blobs and count what the service was asked."""

    def __init__(self, azurite: Azurite, debug_log: Path) -> None:
        self.azurite = azurite
        self.debug_log = debug_log

    @property
    def connection_string(self) -> str:
        return self.azurite.connection_string

    def container(self) -> str:
        """A new, empty container with a unique name."""
        from azure.storage.blob import BlobServiceClient

        name = f"models-{uuid.uuid4().hex[:12]}"
        BlobServiceClient.from_connection_string(self.connection_string).create_container(name)
        return name

    def upload(self, container: str, blob: str, data: bytes, metadata: dict[str, str] | None = None) -> str:
        """Upload ``data``; returns the new ETag."""
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient.from_connection_string(self.connection_string).get_blob_client(container, blob)
        result = client.upload_blob(data, overwrite=True, metadata=metadata)
        return str(result["etag"])

    def operations(self, operation: str, expect: int | None = None) -> int:
        """How many times Azurite has served ``operation`` (e.g. Blob_Download) so far.

        Azurite writes its debug log asynchronously: with ``expect``, wait (up to 5 s) for the count
        to reach it, then a little longer so that extra operations would show up too.
        """
        deadline = time.monotonic() + 5
        count = self._count(operation)
        while expect is not None and count < expect and time.monotonic() < deadline:
            time.sleep(0.05)
            count = self._count(operation)
        while True:  # settled: unchanged over 200 ms
            time.sleep(0.2)
            again = self._count(operation)
            if again == count:
                return count
            count = again

    def _count(self, operation: str) -> int:
        text = self.debug_log.read_text(errors="replace") if self.debug_log.exists() else ""
        return len(re.findall(rf"Operation={re.escape(operation)}\b", text))


@pytest.fixture(scope="session")
def azurite(funnx_azurite: Azurite) -> AzuriteService:
    """The plugin's session Azurite, with helpers to upload blobs and count operations."""
    assert funnx_azurite.debug_log is not None
    return AzuriteService(funnx_azurite, funnx_azurite.debug_log)
