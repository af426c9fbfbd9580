"""Start and stop Azurite's blob service (the real Azure Storage emulator, from npm).

Used by the test fixtures and the demo. The binary comes from a ``node_modules/.bin`` found by
walking up from the app or the funnx checkout (``npm ci`` installs the pinned version), or from
``FUNNX_AZURITE_BIN``. Each instance listens on its own free loopback port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from framework.errors import EmulatorError

#: Azurite's well-known development account (a public constant, not a secret).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
BINARY_SETTING = "FUNNX_AZURITE_BIN"


def find_azurite(start: Path | None = None) -> Path | None:
    configured = os.environ.get(BINARY_SETTING)
    if configured:
        return Path(configured)
    bases: list[Path] = []
    if start is not None:
        bases += [start.resolve(), *start.resolve().parents]
    checkout = Path(__file__).resolve().parents[2]  # the folder holding framework/ (and package.json)
    bases += [checkout, *checkout.parents]
    for base in bases:
        candidate = base / "node_modules" / ".bin" / "azurite-blob"
        if candidate.exists():
            return candidate
    found = shutil.which("azurite-blob")
    return Path(found) if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Azurite:
    """One Azurite blob service; in memory unless ``location`` is given; on ``port`` or a free one.

    After ``stop()``, ``start()`` again listens on the same port and, with a ``location``, serves
    the same data: a storage outage and its recovery."""

    def __init__(
        self,
        binary: Path | None = None,
        location: Path | None = None,
        debug_log: Path | None = None,
        port: int | None = None,
    ) -> None:
        found = binary or find_azurite(Path.cwd())
        if found is None:
            raise EmulatorError(
                "Azurite not found: run 'npm ci' in the funnx checkout (needs Node.js), or set FUNNX_AZURITE_BIN"
            )
        self.binary = found
        self.location = location
        self.debug_log = debug_log
        self.port = port or 0
        self._process: subprocess.Popen[bytes] | None = None
        self._output = tempfile.TemporaryFile()  # noqa: SIM115  (Azurite's output, kept for error reports)

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def start(self, timeout: float = 30.0) -> Azurite:
        fixed = self.port != 0  # given, or kept from an earlier start
        for _attempt in range(1 if fixed else 3):  # a free port can be taken before Azurite binds it
            if not fixed:
                self.port = free_port()
            args = [
                str(self.binary),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.port),
                "--skipApiVersionCheck",
                "--loose",
                "--disableTelemetry",
                "--silent",
            ]
            if self.location is None:
                args.append("--inMemoryPersistence")
            else:
                self.location.mkdir(parents=True, exist_ok=True)
                args += ["--location", str(self.location)]
            if self.debug_log is not None:
                args += ["--debug", str(self.debug_log)]
            try:
                self._process = subprocess.Popen(args, stdout=self._output, stderr=subprocess.STDOUT)
            except OSError as err:
                raise EmulatorError(
                    f"cannot run {self.binary} ({err.strerror}); Azurite needs Node.js on PATH"
                ) from None
            if self._wait_ready(timeout):
                return self
            self.stop()
        self._output.seek(0)
        tail = self._output.read()[-500:].decode("utf-8", "replace")
        raise EmulatorError(f"Azurite did not start: {tail.strip() or 'no output'}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def kill(self) -> None:
        """End Azurite at once (SIGKILL), mid-request if need be: a storage crash, for fault tests."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
        self._process = None

    def signal(self, signum: int) -> None:
        """Send ``signum`` to Azurite: SIGSTOP freezes it (connections stay open, nothing answers), SIGCONT
        resumes it; for fault tests."""
        if self._process is not None:
            self._process.send_signal(signum)

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
