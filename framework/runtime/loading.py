"""One load of a model: fetch a verified file, build the session, read the signature, log the timeline.

Each load logs one structured line (sdk import, HEAD, download, verify, session creation; the
first run is logged by the model when it happens), so a cold start is visible in the function logs.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.errors import ModelUnavailable, VersionRejected

from . import settings, telemetry
from .batching import BatchingConfig
from .fetch import FetchedModel, RetryNotice, fetch_model, ms_since
from .session_options import SessionConfig, create_session
from .signature import ModelSignature, read_signature
from .sources import LocalSource, ModelSource
from .speculative import SpeculativeSession, remember

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
    batching_requested: BatchingConfig | None = None  # read from the module and settings at load; None: off
    batching_problem: str | None = None  # why the model cannot batch although it was asked to

    @property
    def batching(self) -> BatchingConfig | None:
        """How requests are batched on this version (None: one by one)."""
        return None if self.batching_problem else self.batching_requested

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
    rejected: Mapping[str, str],
    on_retry: RetryNotice | None = None,
    *,
    speculate: bool = True,
) -> LoadedModel:
    """Fetch and open one version. A blob version onnxruntime refuses raises VersionRejected, for the
    caller to add to ``rejected`` (versions that are not fetched again).

    A blob's first load in a worker gets a head start (see speculative.py); a refresh does not,
    since it loads because the version changed.
    """
    started = time.perf_counter()
    remote = not isinstance(source, LocalSource)
    speculative = SpeculativeSession.start(name, source, config) if remote and speculate else None
    try:
        fetched = fetch_model(source, name, rejected, on_retry)
    except BaseException:
        if speculative is not None:
            speculative.drop()
        raise
    timings = dict(fetched.timings)
    if (imported := _import_onnxruntime()) > 1:
        timings["ort_import_ms"] = imported
    session_started = time.perf_counter()
    try:
        session = speculative.take(fetched.path, fetched.cached) if speculative else None
        if session is not None and speculative is not None:
            # built while the HEAD was on its way; the second key says so in GET metadata's load_ms
            timings["session_ms"] = timings["speculative_session_ms"] = speculative.session_ms
        else:
            session_started = time.perf_counter()
            session = _session(name, source, fetched, config)
    except ModelUnavailable as err:
        if not fetched.cached:
            raise _rejected(fetched, err) from None
        # A cached copy onnxruntime rejects (disk damage) was removed: fetch afresh, once.
        log.warning("funnx cached model rejected by onnxruntime, downloading again: model=%s", name)
        fetched = fetch_model(source, name, rejected, on_retry)
        timings.update(fetched.timings)
        session_started = time.perf_counter()
        try:
            session = _session(name, source, fetched, config)
        except ModelUnavailable as again:
            raise _rejected(fetched, again) from None
    timings.setdefault("session_ms", ms_since(session_started))  # set above when speculative
    timings["total_ms"] = ms_since(started)
    if remote:
        remember(source, fetched.path)
    loaded = LoadedModel(
        session, read_signature(session), fetched.etag, fetched.model_version, fetched.identity, fetched.path, config,
        timings,
    )  # fmt: skip
    cache = ("hit" if fetched.cached else "miss") if remote else "local"
    telemetry.record_load(name, started, timings["total_ms"] / 1000, cache)
    log.info(
        "funnx model loaded: model=%s source=%s version=%s cache=%s bytes=%d %s",
        name, source.describe(), loaded.version_label, cache, fetched.size,
        " ".join(f"{key}={value}" for key, value in timings.items()),
    )  # fmt: skip
    return loaded


def _rejected(fetched: FetchedModel, err: ModelUnavailable) -> ModelUnavailable:
    """A blob version onnxruntime refused is not downloaded again; a new version will be."""
    if fetched.etag is None:
        return err
    return VersionRejected(f"{err.message} (blob version {fetched.etag}; upload a fixed model)", fetched.identity)


def _import_onnxruntime() -> float:
    """Import onnxruntime (loaded with the first model, keeping function indexing fast); the ms it took."""
    started = time.perf_counter()
    import onnxruntime  # noqa: F401

    return ms_since(started)


def _session(name: str, source: ModelSource, fetched: FetchedModel, config: SessionConfig) -> Any:
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
