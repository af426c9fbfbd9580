"""``OnnxModel``: one object per model that owns source → cache → session, loading and refreshing.

Importing a generated module only builds this object from literals (no I/O). Loading runs on a
background thread, one at a time (single-flight: concurrent first requests share one download and
one session). A request waits for it while it makes progress, but as soon as storage fails and the
storage SDK's retry policy starts retrying, waiting requests get 503 + Retry-After while the retries
go on in the background; a load that finally fails is remembered for ``FUNNX_RETRY_AFTER_SECONDS``,
then the next request tries again, so service resumes without a restart.

With ``refresh_seconds``, a request that finds the last version check older than that starts a
background check (a HEAD, or the registry's latest pointer); a new version is downloaded, verified
and its session built while the old one keeps serving, then swapped in one assignment; in-flight
requests finish on the session they started with. With ``warmup``, the app starts loading the model
when the worker starts instead of on the first request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from framework.errors import BadRequest, InferenceFailed, ModelUnavailable

from . import settings
from .loading import LoadedModel, load_model, ort_message
from .session_options import SessionConfig, declared_config, effective_config
from .sources import ModelSource, parse_source

log = logging.getLogger("funnx.runtime")

#: How long a request waits for a first load that is making progress (below the 230 s HTTP limit).
LOAD_WAIT_SETTING = "FUNNX_LOAD_WAIT_SECONDS"


class _Attempt:
    """One background load: settled when it ends, or as soon as storage starts retrying."""

    def __init__(self) -> None:
        self.settled = threading.Event()
        self.started = time.monotonic()
        self.error: ModelUnavailable | None = None
        self.retrying: str | None = None


class OnnxModel:
    """A model declared in a generated function module."""

    def __init__(
        self,
        name: str,
        source: str,
        *,
        connection: str | None = None,
        refresh_seconds: float | None = None,
        warmup: bool = False,
        session: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.source: ModelSource = parse_source(source, connection)
        self.declared_session: SessionConfig = declared_config(name, session)
        self._refresh_seconds = refresh_seconds
        self._warmup = warmup
        self._lock = threading.Lock()
        self._loaded: LoadedModel | None = None
        self._attempt: _Attempt | None = None
        self._failure: tuple[ModelUnavailable, float] | None = None
        self._rejected: dict[str, str] = {}  # version identity → why onnxruntime refused it
        self._last_check = 0.0
        self._refreshing = False

    def __repr__(self) -> str:
        return f"OnnxModel(name={self.name!r}, source={self.source.describe()!r})"

    # -- options (declared, overridable by app settings) -------------------------------------
    @property
    def warmup(self) -> bool:
        raw = settings.model_setting(self.name, "warmup")
        return raw.lower() in ("1", "true") if raw is not None else self._warmup

    @property
    def refresh_seconds(self) -> float | None:
        raw = settings.model_setting(self.name, "refresh_seconds")
        try:
            value = float(raw) if raw is not None else self._refresh_seconds
        except ValueError:
            value = self._refresh_seconds
        return value if value and value > 0 else None

    # -- state ------------------------------------------------------------------------------
    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    @property
    def state(self) -> str:
        """idle (never asked for), loading, ready or failed."""
        if self._loaded is not None:
            return "ready"
        if self._attempt is not None:
            return "loading"
        return "failed" if self._failure is not None else "idle"

    def ready(self, settle_seconds: float = 1.0) -> LoadedModel:
        """The loaded model, without waiting for a load: readiness probes and metadata use this.

        Starts a load if none is running; waits briefly for it to settle so an immediate failure is
        reported as such, else answers 503 with state "loading".
        """
        attempt = self._loaded or self._loaded_or_attempt()
        if isinstance(attempt, LoadedModel):
            return attempt
        attempt.settled.wait(settle_seconds)
        return self._settled(attempt) if attempt.settled.is_set() else self._still_loading(attempt)

    def _still_loading(self, attempt: _Attempt) -> LoadedModel:
        raise ModelUnavailable(
            f"model '{self.name}' is loading {self.source.describe()} "
            f"({time.monotonic() - attempt.started:.1f} s so far); retry shortly",
            retry_after=1,
            state="loading",
        )

    def _settled(self, attempt: _Attempt) -> LoadedModel:
        if self._loaded is not None:
            return self._loaded
        if attempt.error is not None:
            raise ModelUnavailable(attempt.error.message, retry_after=attempt.error.retry_after)
        raise ModelUnavailable(
            f"{attempt.retrying} in the background", retry_after=settings.retry_after_seconds(), state="loading"
        )

    def start_loading(self) -> None:
        """Begin loading in the background (warmup); returns at once."""
        with self._lock:
            if self._loaded is None and self._attempt is None:
                self._begin_attempt()

    # -- loading ------------------------------------------------------------------------------
    def get(self) -> LoadedModel:
        """The loaded model (raises ModelUnavailable → 503 while it cannot be served)."""
        loaded = self._loaded
        if loaded is not None:
            if loaded.refresh_every is not None:
                self._refresh_if_due(loaded, loaded.refresh_every)
            return loaded
        attempt = self._loaded_or_attempt()
        if isinstance(attempt, LoadedModel):
            return attempt
        wait = settings.positive_number(LOAD_WAIT_SETTING, 200.0) - (time.monotonic() - attempt.started)
        if not attempt.settled.wait(max(wait, 0.0)):
            return self._still_loading(attempt)
        return self._settled(attempt)

    def _loaded_or_attempt(self) -> LoadedModel | _Attempt:
        """Under the lock: the model if it loaded meanwhile, else the running attempt (started if
        none runs and no recent failure says to wait)."""
        with self._lock:
            if self._loaded is not None:
                return self._loaded
            self._raise_recent_failure()
            return self._attempt or self._begin_attempt()

    def _begin_attempt(self) -> _Attempt:
        attempt = self._attempt = _Attempt()
        threading.Thread(target=self._run_attempt, args=(attempt,), name=f"funnx-load-{self.name}", daemon=True).start()
        return attempt

    def _run_attempt(self, attempt: _Attempt) -> None:
        def on_retry(reason: str) -> None:
            attempt.retrying = reason
            attempt.settled.set()  # waiting requests get their 503 now; the retries go on here

        try:
            loaded = self._load(on_retry)
        except Exception as err:
            failure = err if isinstance(err, ModelUnavailable) else self._unexpected(err)
            failure.retry_after = settings.retry_after_seconds()
            log.warning("funnx model load failed: %s", failure.message)
            with self._lock:
                self._failure, self._attempt = (failure, time.monotonic()), None
            attempt.error = failure
        else:
            with self._lock:
                self._loaded, self._attempt, self._failure = loaded, None, None
                self._last_check = time.monotonic()
        finally:
            attempt.settled.set()

    def _load(self, on_retry: Callable[[str], None] | None = None, *, speculate: bool = True) -> LoadedModel:
        config = effective_config(self.name, self.declared_session)
        loaded = load_model(self.name, self.source, config, self._rejected, on_retry, speculate=speculate)
        loaded.refresh_every = self.refresh_seconds  # settings read per load, not per request
        return loaded

    def _unexpected(self, err: Exception) -> ModelUnavailable:
        log.error("funnx model load failed unexpectedly: model=%s", self.name, exc_info=err)
        return ModelUnavailable(
            f"model '{self.name}': loading {self.source.describe()} failed ({type(err).__name__}); see the logs"
        )

    def _raise_recent_failure(self) -> None:
        if self._failure is None:
            return
        err, failed_at = self._failure
        remaining = err.retry_after - (time.monotonic() - failed_at)
        if remaining > 0:
            raise ModelUnavailable(err.message, retry_after=remaining)

    # -- refresh ------------------------------------------------------------------------------
    def _refresh_if_due(self, loaded: LoadedModel, every: float) -> None:
        if self._refreshing or time.monotonic() - self._last_check < every:
            return
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
        threading.Thread(target=self._refresh, args=(loaded,), name=f"funnx-refresh-{self.name}", daemon=True).start()

    def _refresh(self, current: LoadedModel) -> None:
        from .fetch import probe

        try:
            if probe(self.source, self.name) == current.identity:
                return
            fresh = self._load(speculate=False)  # a changed version: the cached file is the old one
            self._loaded = fresh  # one assignment: requests already running keep the old session
            log.info(
                "funnx model refreshed: model=%s from=%s to=%s", self.name, current.version_label, fresh.version_label
            )
        except Exception as err:
            message = err.message if isinstance(err, ModelUnavailable) else type(err).__name__
            log.warning("funnx model refresh failed, still serving %s: %s", current.version_label, message)
        finally:
            self._last_check = time.monotonic()
            self._refreshing = False

    # -- inference ----------------------------------------------------------------------------
    def run(self, feeds: dict[str, Any], output_names: list[str] | None = None) -> tuple[list[Any], float, LoadedModel]:
        """Run inference; returns (outputs, seconds, the version used). INVALID_ARGUMENT → 400."""
        loaded = self.get()
        started = time.perf_counter()
        try:
            outputs = loaded.session.run(output_names, feeds)
        except Exception as err:
            message = ort_message(err)
            if type(err).__name__ == "InvalidArgument":
                raise BadRequest(f"model '{self.name}' rejected the input: {message}") from None
            log.exception("funnx inference failed: model=%s", self.name)
            raise InferenceFailed(f"model '{self.name}' failed during inference: {message}") from None
        elapsed = time.perf_counter() - started
        if not loaded.first_run_logged:
            loaded.first_run_logged = True
            loaded.timings["first_run_ms"] = round(elapsed * 1000, 2)
            log.info("funnx first inference: model=%s first_run_ms=%s", self.name, loaded.timings["first_run_ms"])
        return list(outputs), elapsed, loaded
