"""``OnnxModel``: one object per model, declared in a generated function module with plain literals.

It owns the model's source, its options (declared, overridable by app settings), its loading
state machine (:mod:`.lifecycle`: background single-flight loads, failure window, refresh) and
inference. Importing a generated module only builds this object (no I/O); the model loads on the
first request, or when the worker starts with ``warmup``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from framework.errors import BadRequest, ConfigurationError, InferenceFailed, ModelUnavailable, VersionRejected

from . import naming, settings, telemetry
from .batching import MAX_BATCH_DELAY_MS, Batcher, BatchingConfig, BatchStats, batch_axis_problem
from .lifecycle import Lifecycle
from .loading import LoadedModel, load_model, ort_message
from .session_options import SessionConfig, declared_config, effective_config
from .sources import ModelSource, parse_source

log = logging.getLogger("funnx.runtime")

#: How long a request waits for a first load that is making progress (below the 230 s HTTP limit).
LOAD_WAIT_SETTING = "FUNNX_LOAD_WAIT_SECONDS"


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
        max_batch_size: int | None = None,
        max_batch_delay_ms: float | None = None,
    ) -> None:
        self.name = name
        self.source: ModelSource = parse_source(source, connection)
        self.declared_session: SessionConfig = declared_config(name, session)
        self._refresh_seconds = refresh_seconds
        self._warmup = warmup
        self._rejected: dict[str, str] = {}  # blob version identity → why onnxruntime refused it
        self.declared_batching = (
            _batching_option(name, "max_batch_size", max_batch_size, int),
            _batching_option(name, "max_batch_delay_ms", max_batch_delay_ms, float),
        )
        self.batch_stats = BatchStats(name)  # the one place batch statistics live (metadata, logs, telemetry)
        self._batcher = Batcher(self.run_alone, self.batch_stats)
        self.lifecycle = Lifecycle(
            name,
            self.source.describe(),
            self._load,
            self._probe,
            load_wait=lambda: settings.positive_number(LOAD_WAIT_SETTING, 200.0),
            retry_after=settings.retry_after_seconds,
        )

    def __repr__(self) -> str:
        return f"OnnxModel(name={self.name!r}, source={self.source.describe()!r})"

    # -- options (declared, overridable by app settings) -------------------------------------
    @property
    def warmup(self) -> bool:
        raw = settings.model_setting(self.name, "warmup")
        return raw.lower() in ("1", "true") if raw is not None else self._warmup

    def batching(self) -> BatchingConfig | None:
        """Batching as declared, with app-setting overrides (read at each load); None when off (size < 2).
        A bad setting value makes the model unavailable with a message naming it, like session options."""
        size, delay = self.declared_batching
        try:
            size = _batching_option(
                self.name, "max_batch_size", settings.model_setting(self.name, "max_batch_size"), int, size
            )
            delay = _batching_option(
                self.name, "max_batch_delay_ms", settings.model_setting(self.name, "max_batch_delay_ms"), float, delay
            )
        except ConfigurationError as err:
            raise ModelUnavailable(err.message) from None
        return BatchingConfig(size, delay or 0.0) if size is not None and size > 1 else None

    @property
    def refresh_seconds(self) -> float | None:
        raw = settings.model_setting(self.name, "refresh_seconds")
        try:
            value = float(raw) if raw is not None else self._refresh_seconds
        except ValueError:
            value = self._refresh_seconds
        return value if value and value > 0 else None

    # -- state (see Lifecycle) ----------------------------------------------------------------
    @property
    def is_loaded(self) -> bool:
        return self.lifecycle.loaded is not None

    @property
    def state(self) -> str:
        """idle (never asked for), loading, ready or failed."""
        return self.lifecycle.state

    def get(self) -> LoadedModel:
        """The loaded model (raises ModelUnavailable → 503 while it cannot be served)."""
        return self.lifecycle.get()

    def ready(self, settle_seconds: float = 1.0) -> LoadedModel:
        """The loaded model without waiting for a long load: readiness probes and metadata use this."""
        return self.lifecycle.ready(settle_seconds)

    def start_loading(self) -> None:
        """Begin loading in the background (warmup); returns at once."""
        self.lifecycle.start()

    # -- what the lifecycle runs ---------------------------------------------------------------
    def _load(self, on_retry: Callable[[str], None] | None, speculate: bool) -> LoadedModel:
        config = effective_config(self.name, self.declared_session)  # settings read per load, not per request
        batching = self.batching()
        if batching is not None:
            # One batch runs at a time: it gets every core, whatever PYTHON_THREADPOOL_THREAD_COUNT says,
            # and its threads do not spin between runs, leaving the CPU to the interpreter that answers
            # the batch just run (measured: less CPU per request, more throughput; docs/batching.md).
            threads, spinning = config.intra_op_threads, config.intra_op_spinning
            config = dataclasses.replace(
                config,
                intra_op_threads=threads if threads is not None else os.cpu_count() or 1,
                intra_op_spinning=spinning if spinning is not None else False,
            )
        try:
            loaded = load_model(self.name, self.source, config, self._rejected, on_retry, speculate=speculate)
        except VersionRejected as err:
            self._rejected[err.identity] = err.message
            raise
        loaded.refresh_every = self.refresh_seconds
        problem = batch_axis_problem(loaded.signature) if batching is not None else None
        if problem is not None:
            log.warning("funnx batching off: model=%s %s; requests run one by one", self.name, problem)
        loaded.batching_requested, loaded.batching_problem = batching, problem
        return loaded

    def _probe(self) -> str:
        from .fetch import probe

        return probe(self.source, self.name)

    # -- inference ----------------------------------------------------------------------------
    def run(
        self, loaded: LoadedModel, feeds: dict[str, Any], output_names: list[str] | None = None
    ) -> tuple[list[Any], float]:
        """Run inference on ``loaded``, the version the request was validated against (from :meth:`get`);
        returns (outputs, seconds). With batching on, concurrent requests may share one run
        (:mod:`.batching`); the answer is the same. INVALID_ARGUMENT → 400."""
        if loaded.batching is not None:
            result: tuple[list[Any], float] = self._batcher.run(loaded, feeds, output_names, loaded.batching)
            return result
        return self.run_alone(loaded, feeds, output_names)

    def batching_report(self, loaded: LoadedModel) -> dict[str, Any] | None:
        """What GET metadata reports under ``batching`` (None when batching is off)."""
        requested = loaded.batching_requested  # as read at load: settings changed since apply at the next load
        if requested is None:
            return None
        report: dict[str, Any] = {**dataclasses.asdict(requested), "enabled": loaded.batching is not None}
        if loaded.batching_problem:
            report["reason"] = loaded.batching_problem
        return {**report, **self.batch_stats.report()}

    def run_alone(
        self, loaded: LoadedModel, feeds: dict[str, Any], output_names: list[str] | None = None
    ) -> tuple[list[Any], float]:
        """One ``session.run`` of these feeds (what a batch runs, once for all its requests)."""
        started = time.perf_counter()
        try:
            outputs = loaded.session.run(output_names, feeds)
        except Exception as err:
            raise self._failure(err, loaded, feeds) from None
        elapsed = time.perf_counter() - started
        telemetry.record_run(self.name, started, elapsed)
        if not loaded.first_run_logged:
            loaded.first_run_logged = True
            loaded.timings["first_run_ms"] = round(elapsed * 1000, 2)
            log.info("funnx first inference: model=%s first_run_ms=%s", self.name, loaded.timings["first_run_ms"])
        return list(outputs), elapsed

    def _failure(self, err: Exception, loaded: LoadedModel, feeds: dict[str, Any]) -> Exception:
        """Whose fault a failed run is. onnxruntime's INVALID_ARGUMENT is the request's (400). So is any
        other failure when an input has a symbolic dimension: the caller chose its size, and a dynamic
        dimension promises some sizes, not all (a 1x1 image through a CNN). When every dimension is
        fixed, the request matched the declared signature exactly, so the failure is the model's (500)."""
        message = ort_message(err)
        if type(err).__name__ == "InvalidArgument":
            return BadRequest(f"model '{self.name}' rejected the input: {message}")
        if loaded.signature.has_dynamic_inputs:
            shapes = ", ".join(f"{name} {list(getattr(value, 'shape', []))}" for name, value in feeds.items())
            return BadRequest(f"model '{self.name}' could not run on inputs of shape {shapes}: {message}")
        log.exception("funnx inference failed: model=%s", self.name, exc_info=err)
        return InferenceFailed(f"model '{self.name}' failed during inference: {message}")


def _batching_option(model: str, option: str, value: Any, kind: type, default: Any = None) -> Any:
    """A batching option (a literal from the module, or an app setting's text) as ``kind``: rows a
    whole number >= 1, a delay finite milliseconds >= 0. None stays the default."""
    if value is None:
        return default
    try:
        number = kind(value)
        if (
            isinstance(value, bool)
            or not 0 <= number < float("inf")
            or (kind is int and (number < 1 or number != float(value)))
            or (kind is float and number > MAX_BATCH_DELAY_MS)
        ):
            raise ValueError
    except (TypeError, ValueError):
        where = f"app setting {naming.model_setting(model, option)}" if isinstance(value, str) else "the module"
        wanted = "a whole number of rows, 1 or more" if kind is int else f"milliseconds, 0 to {MAX_BATCH_DELAY_MS:g}"
        raise ConfigurationError(f"model '{model}': {where} sets {option} to {value!r}; use {wanted}") from None
    return number
