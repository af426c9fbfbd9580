"""The worker's thread pool for sync functions, with one cheap hop each way.

The Python worker runs a sync function with ``loop.run_in_executor(ThreadPoolExecutor)``; for a
small model that hop is a large share of a request's interpreter time: a ``concurrent.futures``
Future (with its Condition), a work item, the executor's idle Semaphore, ``wrap_future`` chaining a
second future through callbacks, and uvloop's ``inspect.iscoroutinefunction`` check on every call.
This pool keeps the executor's behaviour and drops that machinery: a call goes to a thread through a
``SimpleQueue`` and its result comes back with one ``loop.call_soon_threadsafe``.

What it keeps from ``ThreadPoolExecutor`` (and so from the worker): at most ``max_threads`` threads,
started only when no idle thread is free and named ``<prefix>_0``, ``<prefix>_1``, …; a call whose
awaiting future is cancelled before it starts is skipped, one already running runs to completion
(its result is dropped); what a call raises reaches the awaiting coroutine; :meth:`close` cancels
queued calls, lets running ones finish and ends every thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

#: A queued call: the loop to answer on, the future it settles, the call itself; None ends a thread.
_Item = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]] | None


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """On the loop: hand the call's outcome to its future, unless the awaiting request gave up."""
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def _answer(loop: asyncio.AbstractEventLoop, *args: Any) -> None:
    """Schedule ``args`` on ``loop``; a loop already closed (its client went away) gets nothing."""
    with contextlib.suppress(RuntimeError):  # "Event loop is closed": nobody is left to answer
        loop.call_soon_threadsafe(*args)


class WorkerPool:
    """Sync calls on at most ``max_threads`` threads, awaited from any event loop."""

    def __init__(self, max_threads: int, name_prefix: str) -> None:
        if max_threads < 1:
            raise ValueError(f"max_threads must be at least 1, got {max_threads}")
        self.max_threads = max_threads
        self._prefix = name_prefix
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0  # threads waiting for a call and not yet promised one
        self._running = 0
        self._closed = False

    @property
    def running_calls(self) -> int:
        """Calls executing now (a cancelled request's call included, until it returns)."""
        return self._running

    @property
    def threads(self) -> list[threading.Thread]:
        """The threads started so far (alive or ended)."""
        return list(self._threads)

    def run(self, call: Callable[[], Any]) -> asyncio.Future[Any]:
        """Run ``call()`` on a worker thread; await the returned future (of the running loop) for its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot run a call on a closed worker pool")
            if self._idle:
                self._idle -= 1  # promised to this call: the next one needs another thread
            elif len(self._threads) < self.max_threads:
                thread = threading.Thread(target=self._work, name=f"{self._prefix}_{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            self._queue.put((loop, future, call))
        return future

    def _work(self) -> None:
        get = self._queue.get
        while (item := get()) is not None:
            self._run_one(*item)
            # Nothing of a finished call stays referenced while the thread waits for the next one (the
            # request and its response would live on per idle thread): _run_one's locals are gone, and
            # the walrus rebinds ``item`` only when the next call arrives, so drop it here.
            del item

    def _run_one(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], call: Callable[[], Any]) -> None:
        if future.cancelled():  # given up before it started, as an executor's cancelled future
            with self._lock:
                self._idle += 1
            return
        with self._lock:
            self._running += 1
        try:
            result, error = call(), None
        except BaseException as raised:  # handed to the awaiting coroutine, as an executor does
            result, error = None, raised
        with self._lock:
            self._running -= 1
            self._idle += 1
        _answer(loop, _settle, future, result, error)

    def close(self) -> None:
        """Cancel the calls not started yet and end every thread once its current call returns."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = len(self._threads)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                loop, future, _ = item
                _answer(loop, future.cancel)
        for _ in range(threads):
            self._queue.put(None)
