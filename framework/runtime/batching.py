"""Adaptive batching: concurrent requests to one model joined along the batch axis, run once, split back.

Leader/follower, no background thread. Requests arriving while a run is in flight queue; when the
run ends, the oldest queued request leads the next run: it takes every compatible queued request
(same model version, same requested outputs, same non-batch sizes and dtypes) up to
``max_batch_size`` rows, waiting at most until ``max_batch_delay_ms`` after its own arrival for more
(like Triton's ``max_queue_delay``: under load the previous run already took longer, so nobody waits
twice). A request arriving while the model is idle runs at once, alone, when the previous run held
one request (no concurrency: no added latency); when the previous run held several, it leads and
waits up to the delay for company. Without that, under load every run of many requests was
followed by a run of the one request that arrived first, as the others were still being answered.
Requests that cannot join wait for a later run. Each request was validated before it queued; if a
joined run fails anyway, each request runs alone, so every one gets its own answer. One run at a
time per model: the run uses every core (see OnnxModel's intra-op default for batching models).

:class:`BatchStats` is the one place batch statistics live: the metadata endpoint and the logs read
it, and ``BatchStats.record`` is the hook for telemetry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import telemetry
from .signature import ModelSignature

log = logging.getLogger("funnx.runtime")

#: One info line with the statistics every this many batches (debug level logs every batch).
LOG_EVERY_BATCHES = 1000
#: The longest batch delay accepted, from the CLI or an app setting: a request that leads a batch may
#: wait this long for company, so a larger value could only stall it.
MAX_BATCH_DELAY_MS = 1000.0
#: ``(loaded, feeds, output names)`` → (outputs, seconds): one session run (``OnnxModel.run_alone``).
RunOnce = Callable[[Any, dict[str, Any], "list[str] | None"], "tuple[list[Any], float]"]


@dataclass(frozen=True)
class BatchingConfig:
    max_batch_size: int  # rows per run (a larger request runs alone, whole)
    max_batch_delay_ms: float  # how long after its arrival the oldest queued request waits for more


def worker_threads(max_batch_size: int) -> int:
    """The PYTHON_THREADPOOL_THREAD_COUNT funnx writes for an app with a batching model: twice the
    largest batch, so one full batch can gather while another runs (a thread is held per request)."""
    return 2 * max_batch_size


def batch_axis_problem(signature: ModelSignature) -> str | None:
    """Why the model cannot batch (None when it can): every input and output must be a tensor whose
    first dimension is symbolic, the axis requests are joined along."""
    for kind, specs in (("input", signature.inputs), ("output", signature.outputs)):
        for spec in specs:
            if not spec.is_tensor or not spec.shape or isinstance(spec.shape[0], int):
                return f"{kind} {spec.describe()} has no symbolic first (batch) dimension"
    return None


class BatchStats:
    """Counts of one model's runs: requests, batches, a batch size histogram, queue waits."""

    def __init__(self, model: str) -> None:
        self.model = model
        self._lock = threading.Lock()
        self.requests = self.batches = self.rows = self.fallbacks = 0
        self.batch_sizes: dict[int, int] = {}
        self._wait_total_ms = self._wait_max_ms = 0.0

    def record(self, size: int, rows: int, waits_ms: list[float], fell_back: bool) -> None:
        """One run of ``size`` requests (``rows`` rows); each request's time from arrival to the run."""
        with self._lock:
            self.requests += size
            self.batches += 1
            self.rows += rows
            self.fallbacks += fell_back
            self.batch_sizes[size] = self.batch_sizes.get(size, 0) + 1
            self._wait_total_ms += sum(waits_ms)
            self._wait_max_ms = max(self._wait_max_ms, *waits_ms)
            due = self.batches % LOG_EVERY_BATCHES == 0
        telemetry.record_batch(self.model, size, max(waits_ms) / 1000)
        log.debug("funnx batch: model=%s size=%d rows=%d fell_back=%s", self.model, size, rows, fell_back)
        if due:
            log.info("funnx batching: model=%s %s", self.model, " ".join(f"{k}={v}" for k, v in self.report().items()))

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "batches": self.batches,
                "rows": self.rows,
                "mean_batch_size": round(self.requests / self.batches, 3) if self.batches else None,
                "batch_sizes": {str(size): self.batch_sizes[size] for size in sorted(self.batch_sizes)},
                "queue_wait_ms": {
                    "mean": round(self._wait_total_ms / self.requests, 3) if self.requests else None,
                    "max": round(self._wait_max_ms, 3),
                },
                "fallbacks": self.fallbacks,
            }


class _Request:
    """One request's inputs, its compatibility key, and, once run, its answer or error."""

    def __init__(self, loaded: Any, feeds: dict[str, Any], outputs: list[str] | None) -> None:
        self.loaded, self.feeds, self.outputs = loaded, feeds, outputs
        arrays = sorted(feeds.items())
        first = arrays[0][1] if arrays else None
        self.rows = first.shape[0] if isinstance(first, np.ndarray) and first.ndim else -1
        # joinable: every input an array with the same first dimension (the rows)
        self.joinable = self.rows >= 0 and all(
            isinstance(a, np.ndarray) and a.shape[:1] == (self.rows,) for _, a in arrays
        )
        parts = tuple((name, a.dtype.str, a.shape[1:]) for name, a in arrays) if self.joinable else id(self)
        self.key = (id(loaded), tuple(outputs) if outputs else None, parts)
        self.arrived = time.perf_counter()
        self.wait_ms = 0.0
        self.answer: tuple[list[Any], float] | None = None
        self.error: BaseException | None = None
        # Held until this request's turn: released once, when it is answered or when it leads the next
        # run. A bare lock rather than an Event: no Python-level Condition on the path of every request.
        self._turn = threading.Lock()
        self._turn.acquire()
        self.leads = False

    def give_turn(self) -> None:
        self._turn.release()

    def wait_turn(self) -> None:
        self._turn.acquire()

    def outcome(self) -> tuple[list[Any], float]:
        if self.error is not None:
            raise self.error
        assert self.answer is not None
        return self.answer


class Batcher:
    """Joins concurrent requests to one model (see the module docstring)."""

    def __init__(self, run_once: RunOnce, stats: BatchStats) -> None:
        self._run_once = run_once
        self.stats = stats
        self._lock = threading.Lock()
        self._arrival = threading.Condition(self._lock)  # only a collecting leader waits on it
        self._queue: list[_Request] = []
        self._busy = False  # a leader is collecting or running (then requests queue)
        self._previous_size = 0  # requests in the last run: above 1, an idle arrival waits for company

    @property
    def queued(self) -> int:
        """Requests waiting for a run."""
        return len(self._queue)

    def run(self, loaded: Any, feeds: dict[str, Any], outputs: list[str] | None, config: BatchingConfig) -> Any:
        """(outputs, seconds) of ``feeds``, possibly computed in one run with other requests."""
        request = _Request(loaded, feeds, outputs)
        with self._lock:
            queued = self._busy
            gathers = queued or self._previous_size > 1  # idle after a shared run: wait for company
            if gathers:  # the queue is empty when the model is idle: this request is its oldest
                self._queue.append(request)
                self._arrival.notify()
            self._busy = True
        if queued:
            request.wait_turn()
            if not request.leads:
                return request.outcome()
        batch, fell_back = [request], False
        try:
            batch = self._collect(request, config) if gathers else batch
            fell_back = self._execute(batch)
        finally:
            # Whatever happened, the next queued request gets its turn, and before this batch's requests
            # are woken: they all want the interpreter to answer, and the next run should not queue behind.
            self._hand_over(request)
            for answered in batch:
                if answered is not request:  # the leader's own thread is not waiting
                    answered.give_turn()
            self.stats.record(len(batch), sum(r.rows for r in batch), [r.wait_ms for r in batch], fell_back)
        return request.outcome()

    def _collect(self, leader: _Request, config: BatchingConfig) -> list[_Request]:
        """The leader's batch: compatible queued requests in arrival order, up to the row limit."""
        deadline = leader.arrived + config.max_batch_delay_ms / 1000
        with self._lock:
            while True:
                batch: list[_Request] = []
                rows = 0
                for queued in self._queue:
                    if queued.key == leader.key and (not batch or rows + queued.rows <= config.max_batch_size):
                        batch.append(queued)
                        rows += queued.rows
                remaining = deadline - time.perf_counter()
                if rows >= config.max_batch_size or remaining <= 0 or not leader.joinable:
                    break
                self._arrival.wait(remaining)
            taken = {id(queued) for queued in batch}
            self._queue = [queued for queued in self._queue if id(queued) not in taken]
        return batch

    def _hand_over(self, leader: _Request) -> None:
        """The oldest queued request leads the next run; with none queued, the model is idle. The
        leader that just finished is never handed the turn again: were its collecting interrupted, it
        would still be queued, and the model would wait for it forever."""
        with self._lock:
            if self._queue and self._queue[0] is leader:
                self._queue.pop(0)
            following = self._queue[0] if self._queue else None
            self._busy = following is not None
            if following is not None:
                following.leads = True
        if following is not None:
            following.give_turn()

    def _execute(self, batch: list[_Request]) -> bool:
        """Answers every request of ``batch`` (an answer or an error); True when it fell back to
        running each alone."""
        self._previous_size = len(batch)
        started = time.perf_counter()
        for request in batch:
            request.wait_ms = (started - request.arrived) * 1000
        fell_back = False
        try:
            if len(batch) == 1:
                self._alone(batch[0])
            else:
                fell_back = not self._joined(batch)
                if fell_back:
                    for request in batch:
                        self._alone(request)
        finally:
            for request in batch:
                if request.answer is None and request.error is None:  # only on a bug: never strand a thread
                    request.error = RuntimeError("funnx batching: request left without an answer")
        return fell_back

    def _alone(self, request: _Request) -> None:
        try:
            request.answer = self._run_once(request.loaded, request.feeds, request.outputs)
        except Exception as err:
            request.error = err

    def _joined(self, batch: list[_Request]) -> bool:
        """One run over the concatenated inputs, its outputs split by rows; False when that failed."""
        first = batch[0]
        total = sum(request.rows for request in batch)
        try:
            feeds = {name: np.concatenate([request.feeds[name] for request in batch]) for name in first.feeds}
            outputs, seconds = self._run_once(first.loaded, feeds, first.outputs)
        except Exception as err:
            message = getattr(err, "message", type(err).__name__)
            log.warning(
                "funnx batch of %d failed, running each alone: model=%s %s", len(batch), self.stats.model, message
            )
            return False
        if not all(isinstance(out, np.ndarray) and out.ndim and out.shape[0] == total for out in outputs):
            log.warning(
                "funnx batch outputs do not have %d rows, running each alone: model=%s", total, self.stats.model
            )
            return False
        offset = 0
        for request in batch:
            request.answer = ([out[offset : offset + request.rows] for out in outputs], seconds)
            offset += request.rows
        return True
