"""``OnnxModel``: one object per model that owns source → cache → lazily created session.

Importing a generated module only builds this object from literals (no I/O). The first request
loads the model: exactly one thread fetches and builds the session while concurrent requests wait
for it (single-flight). A failed load is remembered for a few seconds so a burst of requests gets
fast 503s instead of each retrying storage; the next request after that tries again, so service
resumes without a restart once storage recovers.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import registry, settings
from .errors import BadRequest, InferenceFailed, ModelUnavailable
from .fetch import fetch_model, ms_since
from .signature import ModelSignature, read_signature
from .sources import LocalSource, ModelSource, parse_source

log = logging.getLogger("funnx.runtime")


@dataclass
class LoadedModel:
    """A ready session plus what was learnt while loading it."""

    session: Any
    signature: ModelSignature
    version: str | None
    path: Path
    timings: dict[str, float] = field(default_factory=dict)
    first_run_logged: bool = False


class OnnxModel:
    """A model declared in a generated function module (name, source, connection setting)."""

    def __init__(self, name: str, source: str, *, connection: str | None = None) -> None:
        self.name = name
        self.source: ModelSource = parse_source(source, connection)
        self._lock = threading.Lock()
        self._loaded: LoadedModel | None = None
        self._failure: tuple[ModelUnavailable, float] | None = None
        self._rejected: dict[str, str] = {}  # blob ETag → why onnxruntime refused it
        registry.register(self)

    def __repr__(self) -> str:
        return f"OnnxModel(name={self.name!r}, source={self.source.describe()!r})"

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    def get(self) -> LoadedModel:
        """The loaded model, loading it first if needed (raises ModelUnavailable → 503)."""
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is not None:
                return self._loaded
            self._raise_recent_failure()
            try:
                self._loaded = self._load()
            except Exception as err:
                failure = err if isinstance(err, ModelUnavailable) else self._unexpected(err)
                failure.retry_after = settings.retry_after_seconds()
                self._failure = (failure, time.monotonic())
                log.warning("funnx model load failed: %s", failure.message)
                raise failure from None
            self._failure = None
            return self._loaded

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

    def _load(self) -> LoadedModel:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        fetched = fetch_model(self.source, self.name, timings, self._rejected)
        session_started = time.perf_counter()
        try:
            session = self._create_session(fetched.path)
        except ModelUnavailable as err:
            if not fetched.cached:
                self._remember_rejection(fetched.version, err)
                raise
            # A cached copy onnxruntime rejects (disk damage): it was removed, so fetch afresh once.
            log.warning("funnx cached model rejected by onnxruntime, downloading again: model=%s", self.name)
            fetched = fetch_model(self.source, self.name, timings, self._rejected)
            session_started = time.perf_counter()
            try:
                session = self._create_session(fetched.path)
            except ModelUnavailable as again:
                self._remember_rejection(fetched.version, again)
                raise
        timings["session_ms"] = ms_since(session_started)
        timings["total_ms"] = ms_since(started)
        loaded = LoadedModel(session, read_signature(session), fetched.version, fetched.path, timings)
        details = " ".join(f"{key}={value}" for key, value in timings.items())
        cache = "local" if isinstance(self.source, LocalSource) else ("hit" if fetched.cached else "miss")
        log.info(
            "funnx model loaded: model=%s source=%s version=%s cache=%s bytes=%d %s",
            self.name,
            self.source.describe(),
            fetched.version,
            cache,
            fetched.size,
            details,
        )
        return loaded

    def _remember_rejection(self, version: str | None, err: ModelUnavailable) -> None:
        """A blob version onnxruntime refused is not downloaded again; a new version will be."""
        if version is not None:
            self._rejected[version] = f"{err.message} (blob version {version}; upload a fixed model)"

    def _create_session(self, path: Path) -> Any:
        import onnxruntime as ort  # imported on first load, keeping function indexing fast

        try:
            return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as err:
            if not isinstance(self.source, LocalSource):
                path.unlink(missing_ok=True)  # never keep a file onnxruntime rejects in the cache
            raise ModelUnavailable(
                f"model '{self.name}': onnxruntime cannot load {self.source.describe()}: {_ort_message(err)}"
            ) from None

    def run(self, feeds: dict[str, Any], output_names: list[str] | None = None) -> tuple[list[Any], float]:
        """Run inference; returns (outputs, seconds). ORT's INVALID_ARGUMENT becomes a 400."""
        loaded = self.get()
        started = time.perf_counter()
        try:
            outputs = loaded.session.run(output_names, feeds)
        except Exception as err:
            message = _ort_message(err)
            if type(err).__name__ == "InvalidArgument":
                raise BadRequest(f"model '{self.name}' rejected the input: {message}") from None
            log.exception("funnx inference failed: model=%s", self.name)
            raise InferenceFailed(f"model '{self.name}' failed during inference: {message}") from None
        elapsed = time.perf_counter() - started
        if not loaded.first_run_logged:
            loaded.first_run_logged = True
            loaded.timings["first_run_ms"] = round(elapsed * 1000, 2)
            log.info("funnx first inference: model=%s first_run_ms=%s", self.name, loaded.timings["first_run_ms"])
        return list(outputs), elapsed


def _ort_message(err: Exception) -> str:
    """onnxruntime's message without its '[ONNXRuntimeError] : 2 : INVALID_ARGUMENT :' prefix."""
    text = str(err).strip()
    if text.startswith("[ONNXRuntimeError]"):
        text = text.split(" : ", 3)[-1]
    return " ".join(text.split())
