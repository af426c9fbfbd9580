"""PYTHON_THREADPOOL_THREAD_COUNT: one parse (framework.runtime.settings) for the emulator's thread pool
and onnxruntime's default thread count, with the host's default of 1000 when unset or invalid."""

from __future__ import annotations

import os

import pytest

from framework.runtime import session_options, settings


def _set_thread_count(monkeypatch: pytest.MonkeyPatch, raw: str | None) -> None:
    """The app setting as ``raw`` (None: unset)."""
    if raw is None:
        monkeypatch.delenv(settings.THREAD_COUNT_SETTING, raising=False)
    else:
        monkeypatch.setenv(settings.THREAD_COUNT_SETTING, raw)


@pytest.mark.parametrize(
    ("raw", "threads"),
    [(None, 1000), ("", 1000), ("abc", 1000), ("0", 1000), ("-4", 1000), ("2.5", 1000), ("4", 4), ("2000", 2000)],
)
def test_the_thread_count_is_a_positive_integer_or_the_hosts_default(
    monkeypatch: pytest.MonkeyPatch, raw: str | None, threads: int
) -> None:
    _set_thread_count(monkeypatch, raw)
    assert settings.thread_count() == threads


@pytest.mark.parametrize(
    ("raw", "concurrent"), [(None, 1), ("abc", 1), ("1000", 1), ("2000", 1), ("2", 2), ("999", 999)]
)
def test_onnxruntime_shares_the_cores_only_when_the_count_is_below_the_hosts_default(
    monkeypatch: pytest.MonkeyPatch, raw: str | None, concurrent: int
) -> None:
    """The host's 1000 (or more) says nothing about real concurrency, so a run then gets every core."""
    _set_thread_count(monkeypatch, raw)
    assert session_options.default_intra_op_threads() == max(1, (os.cpu_count() or 1) // concurrent)
