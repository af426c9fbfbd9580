"""Progress for long CLI work (uploads, `funnx package`, `funnx invoke` on large inputs), on a terminal only.

Drawn on stderr, and only when stderr is a terminal: piped or captured output (CI logs, scripts,
CliRunner) stays exactly what it was. Two shapes, one rule:

- :func:`bar`, for work of known size: a click progress bar fed absolute positions
  ``(current, total)``, the shape of azure-core's ``progress_hook``; it appears once the total is
  known and at least ``threshold`` (small work finishes before a bar is worth drawing);
- :func:`status`, for work of unknown size (pip resolving and downloading, a call in progress): one
  line rewritten in place, erased at the end.

The generator and the emulator take these as plain callbacks; they never print themselves.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import click

#: Below this many bytes, work is quick enough to need no bar.
PROGRESS_FROM_BYTES = 4 << 20

Position = Callable[[int, "int | None"], None]
Status = Callable[[str], None]


def on_terminal() -> bool:
    return sys.stderr.isatty()


class _Bar:
    """A click progress bar, opened at the first position whose total is worth a bar."""

    def __init__(self, label: str, threshold: int, stack: contextlib.ExitStack) -> None:
        self._label, self._threshold, self._stack = label, threshold, stack
        self._bar: Any = None
        self._done = 0

    def __call__(self, current: int, total: int | None = None) -> None:
        if self._bar is None:
            if total is None or total < self._threshold:
                return
            self._bar = self._stack.enter_context(click.progressbar(length=total, label=self._label, file=sys.stderr))
        self._bar.update(current - self._done)
        self._done = current


@contextlib.contextmanager
def bar(label: str, threshold: int = PROGRESS_FROM_BYTES) -> Iterator[Position | None]:
    """A ``(current, total)`` callback drawing a bar on a terminal; None (draw nothing) elsewhere."""
    if not on_terminal():
        yield None
        return
    with contextlib.ExitStack() as stack:
        yield _Bar(label, threshold, stack)


@contextlib.contextmanager
def status(label: str, when: bool = True) -> Iterator[Status | None]:
    """A callback showing ``label: <what now> (<seconds> s)`` on one line of a terminal, the seconds
    ticking while a step lasts; None (show nothing) elsewhere, or when ``when`` is false."""
    if not when or not on_terminal():
        yield None
        return
    started = time.monotonic()
    width = max(20, shutil.get_terminal_size().columns - 1)
    current = [""]
    lock, stop = threading.Lock(), threading.Event()

    def draw() -> None:
        with lock:
            line = f"{label}: {current[0]} ({time.monotonic() - started:.0f} s)"
            click.echo(f"\r\x1b[K{line[:width]}", nl=False, err=True)

    def show(text: str) -> None:
        current[0] = text
        draw()

    def tick() -> None:
        while not stop.wait(1.0):
            draw()

    ticker = threading.Thread(target=tick, name="funnx-progress", daemon=True)
    ticker.start()
    try:
        yield show
    finally:
        stop.set()
        ticker.join()
        click.echo("\r\x1b[K", nl=False, err=True)
