"""One load of a model: fetch a verified file, build the session, read the signature, log the timeline.

Each load logs one structured line (sdk import, HEAD, download, verify, session creation; the
first run is logged by the model when it happens), so a cold start is visible in the function logs.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import registry, settings
from .cache import ModelCache
from .errors import ModelUnavailable
from .fetch import FetchedModel, RetryNotice, fetch_model, ms_since
from .session_options import SessionConfig, create_session
from .signature import ModelSignature, read_signature
from .sources import LocalSource, ModelSource

log = logging.getLogger("funnx.runtime")


@dataclass
class LoadedModel:
    """A ready session plus what was learnt while loading it."""

    session: Any
    signature: ModelSignature
    etag: str | None
    model_version: str | None
    identity: str
    path: Path
    config: SessionConfig
    timings: dict[str, float] = field(default_factory=dict)
    refresh_every: float | None = None  # seconds between version checks, read from settings at load
    first_run_logged: bool = False

    @property
    def version_label(self) -> str:
        """What responses report as the model version: the registry version, else the ETag."""
        return self.model_version or (self.etag or "local").strip('"')


def ort_message(err: Exception) -> str:
    """onnxruntime's message without its '[ONNXRuntimeError] : 2 : INVALID_ARGUMENT :' prefix."""
    text = str(err).strip()
    if text.startswith("[ONNXRuntimeError]"):
        text = text.split(" : ", 3)[-1]
    return " ".join(text.split())


def load_model(
    name: str,
    source: ModelSource,
    config: SessionConfig,
    rejected: dict[str, str],
    on_retry: RetryNotice | None = None,
    *,
    speculate: bool = True,
) -> LoadedModel:
    """Fetch and open one version; a version onnxruntime refuses is remembered in ``rejected``.

    For a blob already in the cache, the session for the file this source loaded last is built on a
    thread while the storage SDK is imported and the HEAD request made (onnxruntime releases the
    GIL), and used only if the HEAD shows that very version: a cached restart then costs about
    the larger of the two, not their sum.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    remote = not isinstance(source, LocalSource)
    speculative = _Speculative.start(name, source, config) if remote and speculate else None
    fetched = fetch_model(source, name, timings, rejected, on_retry)
    session_started = time.perf_counter()
    try:
        session = speculative.take(fetched.path) if speculative else None
        if session is not None and speculative is not None:
            # built while the HEAD was on its way; the second key says so in GET metadata's load_ms
            timings["session_ms"] = timings["speculative_session_ms"] = speculative.session_ms
        else:
            session = _session(name, source, fetched, config, timings)
    except ModelUnavailable as err:
        if not fetched.cached:
            _reject(rejected, fetched, err)
            raise
        # A cached copy onnxruntime rejects (disk damage) was removed: fetch afresh, once.
        log.warning("funnx cached model rejected by onnxruntime, downloading again: model=%s", name)
        fetched = fetch_model(source, name, timings, rejected, on_retry)
        session_started = time.perf_counter()
        try:
            session = _session(name, source, fetched, config, timings)
        except ModelUnavailable as again:
            _reject(rejected, fetched, again)
            raise
    timings.setdefault("session_ms", ms_since(session_started))  # set above when speculative
    timings["total_ms"] = ms_since(started)
    if not isinstance(source, LocalSource):
        ModelCache(settings.cache_dir()).remember(_source_key(source), fetched.path)
    loaded = LoadedModel(
        session, read_signature(session), fetched.etag, fetched.model_version, fetched.identity, fetched.path, config,
        timings,
    )  # fmt: skip
    cache = "local" if isinstance(source, LocalSource) else ("hit" if fetched.cached else "miss")
    log.info(
        "funnx model loaded: model=%s source=%s version=%s cache=%s bytes=%d %s",
        name, source.describe(), loaded.version_label, cache, fetched.size,
        " ".join(f"{key}={value}" for key, value in timings.items()),
    )  # fmt: skip
    return loaded


def _source_key(source: ModelSource) -> str:
    connection = getattr(source, "connection", None)
    return f"{type(source).__name__}|{source.describe()}|{connection}|{settings.get(registry.CONTAINER_SETTING)}"


class _Speculative:
    """A session being built from the file a source loaded last, until the HEAD says whether it is current."""

    def __init__(self, path: Path, build: Callable[[], Any]) -> None:
        self.path = path
        self.session_ms = 0.0
        self._result: Any = None
        self._thread = threading.Thread(target=self._run, args=(build,), name="funnx-speculative-session", daemon=True)
        self._thread.start()

    @classmethod
    def start(cls, name: str, source: ModelSource, config: SessionConfig) -> _Speculative | None:
        if config.optimized_model_cache:
            return None  # that path writes files while it builds: only for the version known current
        candidate = ModelCache(settings.cache_dir()).remembered(_source_key(source))
        if candidate is None:
            return None
        return cls(candidate, lambda: create_session(candidate, config, name, None))

    def _run(self, build: Callable[[], Any]) -> None:
        started = time.perf_counter()
        try:
            self._result = build()
        except Exception:  # a bad cached file: the normal path reports it after the HEAD
            self._result = None
        self.session_ms = ms_since(started)

    def take(self, path: Path) -> Any:
        """The session if it was built for ``path``; None otherwise (the thread finishes unwatched)."""
        if path != self.path:
            return None
        self._thread.join()
        return self._result


def _reject(rejected: dict[str, str], fetched: FetchedModel, err: ModelUnavailable) -> None:
    """A blob version onnxruntime refused is not downloaded again; a new version will be."""
    if fetched.etag is not None:
        rejected[fetched.identity] = f"{err.message} (blob version {fetched.etag}; upload a fixed model)"


def _session(
    name: str, source: ModelSource, fetched: FetchedModel, config: SessionConfig, timings: dict[str, float]
) -> Any:
    started = time.perf_counter()
    import onnxruntime  # noqa: F401  (loaded with the first model, keeping function indexing fast)

    if (imported := ms_since(started)) > 1:
        timings["ort_import_ms"] = imported
    optimized = None
    if config.optimized_model_cache:
        key = hashlib.sha256(f"{fetched.identity}|{fetched.path}|{config}".encode()).hexdigest()[:32]
        optimized = settings.cache_dir() / f"{key}.optimized.onnx"
        optimized.parent.mkdir(parents=True, exist_ok=True)
    try:
        return create_session(fetched.path, config, name, optimized)
    except ModelUnavailable:
        raise
    except Exception as err:
        if not isinstance(source, LocalSource):
            fetched.path.unlink(missing_ok=True)  # never keep a file onnxruntime rejects in the cache
        raise ModelUnavailable(
            f"model '{name}': onnxruntime cannot load {source.describe()}: {ort_message(err)}"
        ) from None
