"""Timing helpers: repeat callables for a time budget and summarise in microseconds.

``compare`` alternates the measured path and its baseline call by call, so both see the same
machine state (a noisy neighbour slows both, not one).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    median_us: float
    p90_us: float
    runs: int


def _summary(samples: list[float]) -> Timing:
    samples = sorted(samples)
    return Timing(statistics.median(samples), samples[int(0.9 * (len(samples) - 1))], len(samples))


def measure(call: Callable[[], object], budget_s: float = 0.5, min_runs: int = 5, max_runs: int = 10_000) -> Timing:
    call()  # warm up (first-call allocations, lazy imports)
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < min_runs or (time.perf_counter() < deadline and len(samples) < max_runs):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1000)
    return _summary(samples)


def compare(
    measured: Callable[[], object], baseline: Callable[[], object], budget_s: float = 1.0, min_runs: int = 7
) -> tuple[Timing, Timing]:
    """(measured, baseline), sampled alternately."""
    measured()
    baseline()
    ours: list[float] = []
    theirs: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(ours) < min_runs or (time.perf_counter() < deadline and len(ours) < 20_000):
        for call, samples in ((measured, ours), (baseline, theirs)):
            started = time.perf_counter_ns()
            call()
            samples.append((time.perf_counter_ns() - started) / 1000)
    return _summary(ours), _summary(theirs)


def fmt_us(value: float) -> str:
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
