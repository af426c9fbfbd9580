"""onnxruntime session options per model: declared in the generated module (``session={...}``),
each overridable by an app setting ``FUNNX_<NAME>_<OPTION>`` so a deployment can tune without code.

Defaults are chosen for Functions. Threads: a worker runs up to ``PYTHON_THREADPOOL_THREAD_COUNT``
sync invocations at once, each calling ``session.run``; if N runs each used every core they would
fight over them. So a run gets ``cores // N`` intra-op threads when you set that count (Microsoft's
guidance for CPU-bound work is to set it low), and all cores when it is unset or the host's injected
ceiling of 1000, which says nothing about real concurrency. Inter-op threads 1 and sequential
execution: parallel execution only helps graphs with wide independent branches. Graph optimisations
all on; the CPU memory arena on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from framework.errors import ConfigurationError, ModelUnavailable

from . import settings

PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
}
EXECUTION_MODES = ("sequential", "parallel")
OPTIMIZATION_LEVELS = ("disabled", "basic", "extended", "all")


@dataclass(frozen=True)
class SessionConfig:
    intra_op_threads: int | None = None  # None: the default rule in the module docstring
    inter_op_threads: int = 1
    execution_mode: str = "sequential"
    graph_optimization: str = "all"
    providers: tuple[str, ...] = ("CPUExecutionProvider",)
    memory_arena: bool = True
    optimized_model_cache: bool = False  # keep the optimised graph on disk for the next cold start
    intra_op_spinning: bool | None = None  # None: onnxruntime's default (on), off for a batching model


def _convert(option: str, value: Any, where: str) -> Any:
    """Check and normalise one option value (a literal from code or a string from an app setting)."""
    try:
        if option in ("intra_op_threads", "inter_op_threads"):
            number = int(value)
            if number < 0 or isinstance(value, bool):
                raise ValueError
            return number
        if option in ("memory_arena", "optimized_model_cache", "intra_op_spinning"):
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1", "false", "0"):
                return str(value).lower() in ("true", "1")
            raise ValueError
        if option == "execution_mode" and str(value).lower() in EXECUTION_MODES:
            return str(value).lower()
        if option == "graph_optimization" and str(value).lower() in OPTIMIZATION_LEVELS:
            return str(value).lower()
        if option == "providers":
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(PROVIDER_ALIASES.get(str(p).strip().lower(), str(p).strip()) for p in items if str(p).strip())
    except (TypeError, ValueError):
        pass
    raise ConfigurationError(f"{where}: invalid value {value!r} for session option '{option}'")


def declared_config(model: str, declared: dict[str, Any] | None) -> SessionConfig:
    """The options written in the module (raises at import for a typo, like any bad declaration)."""
    known = {f.name for f in fields(SessionConfig)}
    unknown = sorted(set(declared or {}) - known)
    if unknown:
        raise ConfigurationError(
            f"model '{model}': unknown session option {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    values = {key: _convert(key, value, f"model '{model}'") for key, value in (declared or {}).items()}
    return replace(SessionConfig(), **values)


def effective_config(model: str, declared: SessionConfig) -> SessionConfig:
    """``declared`` with app-setting overrides applied (read at each load)."""
    overrides = {}
    for item in fields(SessionConfig):
        raw = settings.model_setting(model, item.name)
        if raw is not None:
            try:
                overrides[item.name] = _convert(item.name, raw, f"app setting FUNNX_..._{item.name.upper()}")
            except ConfigurationError as err:
                raise ModelUnavailable(f"model '{model}': {err.message}") from None
    return replace(declared, **overrides)


def default_intra_op_threads() -> int:
    """All cores, or cores // PYTHON_THREADPOOL_THREAD_COUNT when that is set below the host's 1000."""
    cores = os.cpu_count() or 1
    threads = settings.thread_count()
    concurrent = threads if threads < settings.DEFAULT_THREAD_COUNT else 1
    return max(1, cores // concurrent)


def create_session(path: Path, config: SessionConfig, model: str, optimized: Path | None) -> Any:
    """An InferenceSession for ``path``; with ``optimized``, the optimised graph is saved there (or
    loaded from there when present, skipping optimisation)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    missing = [p for p in config.providers if p not in available]
    if missing:
        raise ModelUnavailable(
            f"model '{model}': execution provider {', '.join(missing)} is not available in this onnxruntime "
            f"(available: {', '.join(available)}); install the matching onnxruntime package or change 'providers'"
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = (
        config.intra_op_threads if config.intra_op_threads is not None else default_intra_op_threads()
    )
    options.inter_op_num_threads = config.inter_op_threads
    options.execution_mode = (
        ort.ExecutionMode.ORT_PARALLEL if config.execution_mode == "parallel" else ort.ExecutionMode.ORT_SEQUENTIAL
    )
    levels = {
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    options.graph_optimization_level = levels[config.graph_optimization]
    options.enable_cpu_mem_arena = config.memory_arena
    if config.intra_op_spinning is not None:  # threads busy-wait for the next run (CPU the interpreter may need)
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if config.intra_op_spinning else "0")
    source = path
    if optimized is not None and optimized.is_file():
        source, options.graph_optimization_level = optimized, ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    elif optimized is not None:
        options.optimized_model_filepath = str(optimized.with_name(optimized.name + ".part"))
    session = ort.InferenceSession(str(source), sess_options=options, providers=list(config.providers))
    if optimized is not None and not optimized.is_file():
        partial = optimized.with_name(optimized.name + ".part")
        if partial.is_file():
            partial.replace(optimized)  # complete only once the session built from it exists
    return session
