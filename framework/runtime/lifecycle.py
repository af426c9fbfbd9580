"""The loading state machine of one model: idle → loading → ready (→ refreshed) or failed, off the request path.

Loading runs on a background thread, one at a time (single flight: concurrent first requests share
one load). A request waits for it while it makes progress, but as soon as storage fails and the
storage SDK starts retrying, waiting requests get 503 + Retry-After while the retries go on in the
background; a load that finally fails is remembered for the retry-after window, then the next
request tries again, so service resumes without a restart. A due refresh compares the source's
current version with the loaded one and swaps a new version in with one assignment: requests
already running keep the version they started with.

What a load or a version check does, and the clock, are given to it, so the state machine is tested
without storage or sleeps.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from framework.errors import ModelUnavailable

from .loading import LoadedModel

log = logging.getLogger("funnx.runtime")

#: A load: ``(on_retry, speculate)`` → the loaded model. ``on_retry`` hears when storage starts retrying.
Load = Callable[[Callable[[str], None] | None, bool], LoadedModel]
#: The identity of the source's current version, compared with ``LoadedModel.identity``.
Probe = Callable[[], str]


class _Attempt:
    """One background load: settled when it ends, or as soon as storage starts retrying."""

    def __init__(self, started: float) -> None:
        self.settled = threading.Event()
        self.started = started
        self.error: ModelUnavailable | None = None
        self.retrying: str | None = None


class Lifecycle:
    def __init__(
        self,
        name: str,
        describe: str,
        load: Load,
        probe: Probe,
        *,
        load_wait: Callable[[], float],
        retry_after: Callable[[], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``describe`` names the source in messages; ``load_wait`` and ``retry_after`` are read when
        needed (app settings may change): how long a request waits for a first load, and how long a
        failure is remembered."""
        self.name = name
        self._describe = describe
        self._load = load
        self._probe = probe
        self._load_wait = load_wait
        self._retry_after = retry_after
        self._clock = clock
        self._lock = threading.Lock()
        self.loaded: LoadedModel | None = None
        self._attempt: _Attempt | None = None
        self._failure: tuple[ModelUnavailable, float] | None = None
        self._last_check = 0.0
        self._refreshing = False

    @property
    def state(self) -> str:
        """idle (never asked for), loading, ready or failed."""
        if self.loaded is not None:
            return "ready"
        if self._attempt is not None:
            return "loading"
        return "failed" if self._failure is not None else "idle"

    def get(self) -> LoadedModel:
        """The loaded model, waiting for a first load while it makes progress; ModelUnavailable (503)
        while it cannot be served. Starts a due refresh in the background."""
        loaded = self.loaded
        if loaded is not None:
            if loaded.refresh_every is not None:
                self._refresh_if_due(loaded, loaded.refresh_every)
            return loaded
        attempt = self._loaded_or_attempt()
        if isinstance(attempt, LoadedModel):
            return attempt
        wait = self._load_wait() - (self._clock() - attempt.started)
        if not attempt.settled.wait(max(wait, 0.0)):
            return self._still_loading(attempt)
        return self._settled(attempt)

    def ready(self, settle_seconds: float = 1.0) -> LoadedModel:
        """The loaded model without waiting for a long load (readiness probes, metadata): starts a load
        if none runs and waits briefly so an immediate failure is reported as such."""
        attempt = self.loaded or self._loaded_or_attempt()
        if isinstance(attempt, LoadedModel):
            return attempt
        attempt.settled.wait(settle_seconds)
        return self._settled(attempt) if attempt.settled.is_set() else self._still_loading(attempt)

    def start(self) -> None:
        """Begin loading in the background (warmup); returns at once."""
        with self._lock:
            if self.loaded is None and self._attempt is None:
                self._begin_attempt()

    # -- first load ---------------------------------------------------------------------------
    def _loaded_or_attempt(self) -> LoadedModel | _Attempt:
        """Under the lock: the model if it loaded meanwhile, else the running attempt (started if none
        runs and no recent failure says to wait)."""
        with self._lock:
            if self.loaded is not None:
                return self.loaded
            self._raise_recent_failure()
            return self._attempt or self._begin_attempt()

    def _begin_attempt(self) -> _Attempt:
        attempt = self._attempt = _Attempt(self._clock())
        threading.Thread(target=self._run_attempt, args=(attempt,), name=f"funnx-load-{self.name}", daemon=True).start()
        return attempt

    def _run_attempt(self, attempt: _Attempt) -> None:
        def on_retry(reason: str) -> None:
            attempt.retrying = reason
            attempt.settled.set()  # waiting requests get their 503 now; the retries go on here

        try:
            loaded = self._load(on_retry, True)
        except Exception as err:
            failure = err if isinstance(err, ModelUnavailable) else self._unexpected(err)
            failure.retry_after = self._retry_after()
            log.warning("funnx model load failed: %s", failure.message)
            with self._lock:
                self._failure, self._attempt = (failure, self._clock()), None
            attempt.error = failure
        else:
            with self._lock:
                self.loaded, self._attempt, self._failure = loaded, None, None
                self._last_check = self._clock()
        finally:
            attempt.settled.set()

    def _still_loading(self, attempt: _Attempt) -> LoadedModel:
        raise ModelUnavailable(
            f"model '{self.name}' is loading {self._describe} ({self._clock() - attempt.started:.1f} s so far); "
            "retry shortly",
            retry_after=1,
            state="loading",
        )

    def _settled(self, attempt: _Attempt) -> LoadedModel:
        if self.loaded is not None:
            return self.loaded
        if attempt.error is not None:
            raise ModelUnavailable(attempt.error.message, retry_after=attempt.error.retry_after)
        raise ModelUnavailable(
            f"{attempt.retrying} in the background", retry_after=self._retry_after(), state="loading"
        )

    def _unexpected(self, err: Exception) -> ModelUnavailable:
        log.error("funnx model load failed unexpectedly: model=%s", self.name, exc_info=err)
        return ModelUnavailable(
            f"model '{self.name}': loading {self._describe} failed ({type(err).__name__}); see the logs"
        )

    def _raise_recent_failure(self) -> None:
        if self._failure is None:
            return
        err, failed_at = self._failure
        remaining = err.retry_after - (self._clock() - failed_at)
        if remaining > 0:
            raise ModelUnavailable(err.message, retry_after=remaining)

    # -- refresh ------------------------------------------------------------------------------
    def _refresh_if_due(self, loaded: LoadedModel, every: float) -> None:
        if self._refreshing or self._clock() - self._last_check < every:
            return
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
        threading.Thread(target=self.refresh, args=(loaded,), name=f"funnx-refresh-{self.name}", daemon=True).start()

    def refresh(self, current: LoadedModel) -> Any:
        """Check the source's version and swap a new one in (runs on a background thread)."""
        try:
            if self._probe() == current.identity:
                return
            fresh = self._load(None, False)  # a changed version: the cached file is the old one
            self.loaded = fresh  # one assignment: requests already running keep the old version
            log.info(
                "funnx model refreshed: model=%s from=%s to=%s", self.name, current.version_label, fresh.version_label
            )
        except Exception as err:
            message = err.message if isinstance(err, ModelUnavailable) else type(err).__name__
            log.warning("funnx model refresh failed, still serving %s: %s", current.version_label, message)
        finally:
            self._last_check = self._clock()
            self._refreshing = False
