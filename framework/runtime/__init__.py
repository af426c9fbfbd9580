"""The deployed part of funnx: what generated function modules import in Azure.

Names load on first use (PEP 562), so importing a light submodule (settings, sources) or the error
classes never pulls in ``azure.functions``, numpy or the model code; ``onnxruntime`` loads with the
first model and the storage SDK only when a blob is read.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from framework.errors import BadRequest, FunnxError, InferenceFailed, ModelUnavailable, NotFound, PayloadTooLarge

if TYPE_CHECKING:
    from . import oip, simple
    from .catalog import ModelBlueprint
    from .discovery import register_blueprints
    from .model import OnnxModel

__all__ = [
    "BadRequest",
    "FunnxError",
    "InferenceFailed",
    "ModelBlueprint",
    "ModelUnavailable",
    "NotFound",
    "OnnxModel",
    "PayloadTooLarge",
    "oip",
    "register_blueprints",
    "simple",
]
_EXPORTS = {"ModelBlueprint": ".catalog", "OnnxModel": ".model", "register_blueprints": ".discovery"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    if name in ("oip", "simple"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
