"""A cached restart's head start: build the session for the file a model loaded last while storage is asked.

A new worker must import the storage SDK and HEAD the blob before it knows whether its cached file is
current; building that file's session meanwhile (onnxruntime releases the GIL) makes a cached
restart cost about the larger of the two instead of their sum. The guess is used only when the
fetch confirms it (same path, served from the cache); otherwise it is dropped, and joined first so
that two sessions of a large model are never built at once. Being an optimisation, nothing here may
fail a load: any problem means "no head start".
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from . import registry, settings
from .cache import ModelCache
from .fetch import ms_since
from .session_options import SessionConfig, create_session
from .sources import ModelSource

log = logging.getLogger("funnx.runtime")


def source_key(source: ModelSource) -> str:
    """What identifies a declaration before any storage call (the pointer to its last file is kept under it)."""
    connection = getattr(source, "connection", None)
    return f"{type(source).__name__}|{source.describe()}|{connection}|{settings.get(registry.CONTAINER_SETTING)}"


def remember(source: ModelSource, path: Path) -> None:
    """Record the file ``source`` just loaded: the next worker's candidate."""
    ModelCache(settings.cache_dir()).remember(source_key(source), path)


class SpeculativeSession:
    """A session being built on a thread from the file a source loaded last."""

    def __init__(self, name: str, path: Path, config: SessionConfig) -> None:
        self.path = path
        self.session_ms = 0.0
        self._result: Any = None
        self._wanted = True
        self._thread = threading.Thread(
            target=self._run, args=(name, config), name="funnx-speculative-session", daemon=True
        )
        self._thread.start()

    @classmethod
    def start(cls, name: str, source: ModelSource, config: SessionConfig) -> SpeculativeSession | None:
        if config.optimized_model_cache:
            return None  # that path writes files while it builds: only for the version known current
        try:
            candidate = ModelCache(settings.cache_dir()).remembered(source_key(source))
            return cls(name, candidate, config) if candidate is not None else None
        except Exception:  # an optimisation must never fail a load
            log.debug("funnx speculative session not started for %s", name, exc_info=True)
            return None

    def _run(self, name: str, config: SessionConfig) -> None:
        started = time.perf_counter()
        try:
            result = create_session(self.path, config, name, None)
        except Exception:  # a bad cached file: the normal path reports it after the HEAD
            result = None
        self.session_ms = ms_since(started)
        self._result = result if self._wanted else None

    def take(self, path: Path, cached: bool) -> Any:
        """The session if the fetch served exactly this file from the cache; else None, once the build ended."""
        confirmed = cached and path == self.path
        if not confirmed:
            self._wanted = False  # a result arriving later is dropped at once
        self._thread.join()
        result, self._result = self._result, None
        return result if confirmed else None

    def drop(self) -> None:
        """The fetch failed: let the build finish on its own and keep nothing."""
        self._wanted = False
        self._result = None
