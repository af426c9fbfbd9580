"""App settings the runtime reads, all from environment variables.

In Azure these are the function app's application settings; locally the emulator (or ``func start``)
loads them from local.settings.json ``Values``. They are read when a model loads, never at import,
so tests and the emulator can set them after importing the app; the body limit, needed on every
request, is read once and kept until :func:`reread`.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from pathlib import Path

from framework.errors import PayloadTooLarge

from . import naming

#: Host default for the request body limit (Kestrel's 100 MiB), overridable like the host does.
DEFAULT_BODY_LIMIT = 100 * 1024 * 1024

CACHE_DIR_SETTING = "FUNNX_MODEL_CACHE_DIR"
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
RETRY_AFTER_SETTING = "FUNNX_RETRY_AFTER_SECONDS"
SCRIPT_ROOT_SETTING = "AzureWebJobsScriptRoot"
#: Set by funnx's tooling while it only reads an app's declarations: no model starts loading.
INDEX_ONLY_SETTING = "FUNNX_INDEX_ONLY"
#: How many sync invocations a Python worker runs at once (its thread pool's size).
THREAD_COUNT_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"
#: What the host sets it to for the worker when the app leaves it unset.
DEFAULT_THREAD_COUNT = 1000


def get(name: str) -> str | None:
    """The value of app setting ``name``, or None when unset or empty."""
    value = os.environ.get(name)
    return value if value else None


def app_root() -> Path:
    """The function app's root folder: where the host says it is, else the working directory."""
    root = get(SCRIPT_ROOT_SETTING)
    return Path(root) if root else Path.cwd()


def cache_dir() -> Path:
    """Where downloaded models are kept between cold starts (temp storage survives worker restarts):
    a folder of this user's own in the temp folder, unless the setting names one."""
    configured = get(CACHE_DIR_SETTING)
    return Path(configured) if configured else Path(tempfile.gettempdir()) / f"funnx-models-{os.getuid()}"


def positive_number(name: str, default: float) -> float:
    """A positive, finite number from setting ``name``; the default when unset or not such a number
    (``inf`` and ``nan`` included: no limit or wait may be infinite)."""
    raw = get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if math.isfinite(value) and value > 0 else default


def thread_count() -> int:
    """The worker's thread count: the setting when it is a positive integer, else the host's default."""
    raw = get(THREAD_COUNT_SETTING) or ""
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_THREAD_COUNT


def model_setting(model: str, option: str) -> str | None:
    """The app setting overriding ``option`` for ``model`` (``FUNNX_<MODEL>_<OPTION>``), if set."""
    return get(naming.model_setting(model, option))


@functools.cache
def body_limit() -> int:
    """Largest request body accepted, in bytes. Asked several times per request, so read once per
    process (in Azure app settings change only with a restart); :func:`reread` forgets it."""
    return int(positive_number(BODY_LIMIT_SETTING, DEFAULT_BODY_LIMIT))


def reread() -> None:
    """Forget the settings read once per process: for a host (the emulator, a test) that changes them."""
    body_limit.cache_clear()


def too_large(what: str = "request body") -> PayloadTooLarge:
    """The 413 every layer (the emulator's host, both contracts, decompression) answers."""
    limit = body_limit()
    return PayloadTooLarge(f"{what} is over {limit} bytes ({BODY_LIMIT_SETTING}); send less, or raise the setting")


def check_body_size(size: int, what: str = "request body") -> None:
    """Raise PayloadTooLarge (413) when ``size`` bytes are over the body limit."""
    if size > body_limit():
        raise too_large(what)


def retry_after_seconds() -> float:
    """How long a failed model load is remembered before the next request tries again."""
    return positive_number(RETRY_AFTER_SETTING, 2.0)
