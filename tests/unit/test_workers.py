"""The emulator's worker pool (framework/emulator/workers.py): what the Python worker's thread pool
guarantees a sync function, checked with events rather than timings."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from framework.emulator.client import TestClient
from framework.emulator.host import EmulatorHost
from framework.emulator.workers import WorkerPool
from tests.emulator.test_start_cli import fidelity

WAIT = 30  # seconds an event may take before the test fails instead of hanging


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    made = WorkerPool(2, "test-worker")
    yield made
    made.close()


class Gate:
    """Calls that block until released, counting how many run at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self._lock = threading.Condition()
        self.active = self.peak = self.finished = 0
        self.names: set[str] = set()

    def call(self, value: Any = None) -> Callable[[], Any]:
        def blocked() -> Any:
            with self._lock:
                self.active += 1
                self.peak = max(self.peak, self.active)
                self.names.add(threading.current_thread().name)
                self._lock.notify_all()
            assert self.release.wait(WAIT), "never released"
            with self._lock:
                self.active -= 1
                self.finished += 1
                self._lock.notify_all()
            return value

        return blocked

    def wait_for(self, condition: Callable[[Gate], bool]) -> None:
        with self._lock:
            assert self._lock.wait_for(lambda: condition(self), WAIT), "the calls never got there"


def test_at_most_max_threads_run_and_queued_calls_wait_their_turn(pool: WorkerPool) -> None:
    gate = Gate()

    async def main() -> list[Any]:
        futures = [pool.run(gate.call(index)) for index in range(6)]
        assert len(pool.threads) == 2  # started as needed, never more than the cap
        await asyncio.to_thread(gate.wait_for, lambda g: g.active == 2)
        assert pool.running_calls == 2
        gate.release.set()
        return await asyncio.wait_for(asyncio.gather(*futures), WAIT)

    assert asyncio.run(main()) == [0, 1, 2, 3, 4, 5]
    assert gate.peak == 2 and gate.finished == 6
    assert gate.names == {"test-worker_0", "test-worker_1"}  # named like ThreadPoolExecutor's threads
    assert pool.running_calls == 0


def test_an_idle_thread_is_reused_and_a_busy_one_is_not_waited_for() -> None:
    pool = WorkerPool(4, "test-worker")
    try:

        async def main() -> None:
            for _ in range(5):  # one after the other: the thread that answered takes the next call
                await pool.run(lambda: None)
            assert len(pool.threads) == 1
            started = threading.Event()
            first = pool.run(lambda: started.wait(WAIT))  # holds its thread until the second one runs
            second = pool.run(started.set)  # must not queue behind the first: a free thread slot exists
            assert await first and await asyncio.wait_for(second, WAIT) is None
            assert len(pool.threads) == 2

        asyncio.run(main())
    finally:
        pool.close()


def numbered(n: int) -> tuple[int, str]:
    return n, threading.current_thread().name


def test_results_go_to_the_request_and_the_loop_that_asked(pool: WorkerPool) -> None:
    def loop_thread(offset: int, results: dict[int, list[Any]]) -> None:
        async def main() -> list[Any]:
            calls = [pool.run(functools.partial(numbered, n)) for n in range(offset, offset + 50)]
            return await asyncio.wait_for(asyncio.gather(*calls), WAIT)

        results[offset] = asyncio.run(main())

    results: dict[int, list[Any]] = {}
    threads = [threading.Thread(target=loop_thread, args=(offset, results)) for offset in (0, 1000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    for offset in (0, 1000):
        assert [n for n, _ in results[offset]] == list(range(offset, offset + 50))
        assert {name for _, name in results[offset]} <= {"test-worker_0", "test-worker_1"}


def test_exceptions_reach_the_caller_and_the_thread_keeps_serving(pool: WorkerPool) -> None:
    error = ValueError("a bug in the function")

    def fails() -> None:
        raise error

    async def main() -> Any:
        with pytest.raises(ValueError) as raised:
            await asyncio.wait_for(pool.run(fails), WAIT)
        assert raised.value is error
        return await asyncio.wait_for(pool.run(lambda: "still serving"), WAIT)

    assert asyncio.run(main()) == "still serving"
    assert pool.running_calls == 0


def test_a_cancelled_requests_call_runs_to_completion(pool: WorkerPool) -> None:
    gate = Gate()
    loop_errors: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, context: loop_errors.append(context))
        request = asyncio.ensure_future(pool.run(gate.call("dropped")))
        await asyncio.to_thread(gate.wait_for, lambda g: g.active == 1)
        request.cancel()  # the client went away while its function runs
        with pytest.raises(asyncio.CancelledError):
            await request
        assert pool.running_calls == 1  # still running, and counted
        gate.release.set()
        await asyncio.to_thread(gate.wait_for, lambda g: g.finished == 1)
        assert await asyncio.wait_for(pool.run(lambda: "next"), WAIT) == "next"  # the dropped answer broke nothing

    asyncio.run(main())
    assert gate.finished == 1 and pool.running_calls == 0
    assert loop_errors == []


def test_a_call_cancelled_before_it_starts_is_skipped() -> None:
    pool = WorkerPool(1, "test-worker")
    gate, ran = Gate(), []
    try:

        async def main() -> None:
            first = pool.run(gate.call())
            await asyncio.to_thread(gate.wait_for, lambda g: g.active == 1)
            queued = pool.run(lambda: ran.append("queued"))
            queued.cancel()
            gate.release.set()
            await first
            await pool.run(lambda: ran.append("after"))  # one thread, in order: the queued call came first

        asyncio.run(main())
    finally:
        pool.close()
    assert ran == ["after"]


class _Request:
    """Stands for a per-request object (func.HttpRequest, its response): weak-referenceable."""


def test_an_idle_thread_keeps_nothing_of_its_last_call(pool: WorkerPool) -> None:
    """A finished call's arguments and result are freed while its thread waits for the next call (with
    16 clients, 16 idle threads once held 16 requests and their responses)."""

    async def one_call() -> list[weakref.ref[_Request]]:
        request, response = _Request(), _Request()
        assert await pool.run(functools.partial(lambda _request: response, request)) is response
        return [weakref.ref(request), weakref.ref(response)]

    refs = asyncio.run(one_call())
    gc.collect()
    assert [ref() for ref in refs] == [None, None]
    assert len(pool.threads) == 1 and pool.threads[0].is_alive()  # the thread is idle, not gone


def test_close_cancels_queued_calls_lets_running_ones_finish_and_ends_every_thread() -> None:
    pool = WorkerPool(1, "test-worker")
    gate = Gate()

    async def main() -> None:
        running = pool.run(gate.call("finished"))
        await asyncio.to_thread(gate.wait_for, lambda g: g.active == 1)
        queued = pool.run(lambda: "never")
        pool.close()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(queued, WAIT)
        with pytest.raises(RuntimeError, match="closed worker pool"):
            pool.run(lambda: None)
        gate.release.set()
        assert await asyncio.wait_for(running, WAIT) == "finished"

    asyncio.run(main())
    for thread in pool.threads:
        thread.join(WAIT)
        assert not thread.is_alive()


def test_closing_the_host_ends_its_worker_threads(tmp_path: Path) -> None:
    """Through TestClient, as an app's tests use it: sync functions run on funnx-worker threads,
    at most PYTHON_THREADPOOL_THREAD_COUNT of them, and none is left once the client closes."""
    app = fidelity(tmp_path)
    (app / "host.json").write_text('{"version": "2.0"}')  # no maxConcurrentRequests: only the pool limits
    before = set(threading.enumerate())  # other tests' hosts may still have theirs
    host = EmulatorHost(app, settings={"PYTHON_THREADPOOL_THREAD_COUNT": "2"}, worker="direct")
    with contextlib.closing(host), TestClient(host=host) as client:
        with ThreadPoolExecutor(6) as callers:
            replies = list(callers.map(lambda _: client.get("/api/slow?seconds=0.2").status_code, range(6)))
        assert replies == [200] * 6
        assert client.get("/api/peak").text == "2"
        workers = [t for t in set(threading.enumerate()) - before if t.name.startswith("funnx-worker_")]
        assert workers and {t.name for t in workers} <= {"funnx-worker_0", "funnx-worker_1"}
    for thread in workers:
        thread.join(WAIT)
        assert not thread.is_alive()
