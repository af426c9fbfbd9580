"""Model iris: an HTTP endpoint for an ONNX model, written by `funnx new`.

POST /api/iris  {"data": ...} or {"inputs": {...}}
     -> {"result": [...], "time": seconds}
GET  /api/iris  -> the model's inputs, outputs and metadata

The declaration below is plain data; edit `preprocess` / `postprocess` freely.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func
import numpy as np
from framework.runtime import OnnxModel, simple

MODEL = OnnxModel(
    name="iris",
    source="az://models/iris.onnx",
    connection="AzureWebJobsStorage",
)


def preprocess(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs before inference on the decoded inputs (name -> array).

    Returns the arrays the model is fed; raise framework.runtime.BadRequest to refuse.
    """
    return inputs


def postprocess(outputs: dict[str, Any]) -> dict[str, Any]:
    """Runs after inference on the outputs (name -> array, or list for seq/map outputs).

    Returns what goes into the reply's "result".
    """
    return outputs


bp = func.Blueprint()


@bp.function_name("iris")
@bp.route(route="iris", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def predict(req: func.HttpRequest) -> func.HttpResponse:
    return simple.predict(req, MODEL, preprocess, postprocess)


@bp.function_name("iris_metadata")
@bp.route(route="iris", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def metadata(req: func.HttpRequest) -> func.HttpResponse:
    return simple.metadata(req, MODEL)
