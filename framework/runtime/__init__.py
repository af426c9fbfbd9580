"""The deployed part of funnx: what generated function modules import in Azure.

Imports only the standard library, ``azure.functions`` and ``numpy`` at import time;
``onnxruntime`` loads with the first model and the storage SDK only when a blob is read.
"""

from . import simple
from .discovery import register_blueprints
from .errors import BadRequest, FunnxError, InferenceFailed, ModelUnavailable, NotFound, PayloadTooLarge
from .model import OnnxModel

__all__ = [
    "BadRequest",
    "FunnxError",
    "InferenceFailed",
    "ModelUnavailable",
    "NotFound",
    "OnnxModel",
    "PayloadTooLarge",
    "register_blueprints",
    "simple",
]
