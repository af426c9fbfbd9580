"""``funnx start --reload``: serve the app in a child process and restart it when its code changes.

A fresh process per restart means freshly imported modules, the same as the host restarting the
worker. Watched: function_app.py, functions_app/, host.json, local.settings.json and the funnx
package itself (framework/). Azurite, when asked for, runs in this supervising process so its data
and port survive restarts; the child finds it through ``FUNNX_STORAGE_CONNECTION``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import framework
from framework.errors import EmulatorError

from .azurite import Azurite, find_azurite, free_port
from .devstorage import AZURITE_DATA

log = logging.getLogger("funnx.host")

STORAGE_CONNECTION_SETTING = "FUNNX_STORAGE_CONNECTION"


def watched_paths(app_dir: Path) -> list[Path]:
    candidates = [app_dir / name for name in ("function_app.py", "functions_app", "host.json", "local.settings.json")]
    return [p for p in candidates if p.exists()] + [Path(framework.__file__).resolve().parent]


@contextlib.contextmanager
def local_azurite(app_dir: Path) -> Iterator[Azurite]:
    """Azurite with its data in the app's .azurite/ folder, stopped on exit."""
    binary = find_azurite(app_dir)
    if binary is None:
        raise EmulatorError(
            "Azurite not found: install it in the app (npm install azurite) or the funnx checkout (npm ci), "
            "or set FUNNX_AZURITE_BIN"
        )
    azurite = Azurite(binary=binary, location=app_dir / AZURITE_DATA)
    log.info("Starting Azurite (data in %s)", app_dir / AZURITE_DATA)
    with azurite:
        log.info("Azurite blob service at %s", azurite.blob_endpoint)
        yield azurite


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _stopped_by_ctrl_c() -> Iterator[None]:
    """Ctrl+C ends the watch, and watchfiles then stops the child (it does the same for SIGTERM). Set
    explicitly: a process started in the background by a non-interactive shell (as CI runs tests)
    inherits SIGINT ignored, Python then raises no KeyboardInterrupt, and Ctrl+C did nothing."""
    previous = signal.signal(signal.SIGINT, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_with_reload(app_dir: Path, port: int | None, child_args: Sequence[str], azurite: bool) -> None:
    """Serve in a child ``funnx start`` and restart it on changes, until Ctrl+C or SIGTERM."""
    import watchfiles

    with contextlib.ExitStack() as stack:
        stack.enter_context(_stopped_by_ctrl_c())
        if azurite:
            os.environ[STORAGE_CONNECTION_SETTING] = stack.enter_context(local_azurite(app_dir)).connection_string
        chosen = free_port() if port == 0 else port  # keep one port across restarts
        command = [sys.executable, "-m", "framework.cli.main", "start", "--app", str(app_dir), *child_args]
        if chosen is not None:
            command += ["--port", str(chosen)]
        paths = watched_paths(app_dir)
        log.info("Watching %s for changes", ", ".join(str(p) for p in paths))
        watchfiles.run_process(
            *paths,
            target=shlex.join(command),
            target_type="command",
            callback=lambda changes: log.info("Changes in %s: restarting", ", ".join(sorted({c[1] for c in changes}))),
        )
