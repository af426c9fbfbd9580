"""Model iris: an HTTP endpoint for an ONNX model, written by `funnx new`.

POST /api/iris  {"data": ...} or {"inputs": {...}}
     -> {"result": [...], "time": seconds}
GET  /api/iris  -> the model's inputs, outputs and metadata
/api/v2/models/iris[/ready|/infer]  -> the Open Inference Protocol (KServe v2, tritonclient)

The declaration below is plain data; edit `preprocess` / `postprocess` freely.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func
import numpy as np
from framework.runtime import ModelBlueprint, OnnxModel, oip, simple

MODEL = OnnxModel(
    name="iris",
    source="az://models/iris.onnx",
    connection="AzureWebJobsStorage",
    refresh_seconds=None,  # look for a new version this often (None: never)
    warmup=False,  # load when the worker starts, not on the first request
    session={},  # onnxruntime options, e.g. {"intra_op_threads": 2}
    max_batch_size=None,  # join concurrent requests into one run of up to this many rows (None: off)
    max_batch_delay_ms=None,  # how long a queued request may wait for more to join
)
# App settings override these without a redeploy: FUNNX_IRIS_REFRESH_SECONDS,
# FUNNX_IRIS_WARMUP, FUNNX_IRIS_MAX_BATCH_SIZE, FUNNX_IRIS_MAX_BATCH_DELAY_MS,
# FUNNX_IRIS_INTRA_OP_THREADS and the other session options.
ROUTE = "iris"
OIP_ROUTE = "v2/models/iris/{*rest}"
AUTH_LEVEL = func.AuthLevel.FUNCTION


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


bp = ModelBlueprint(MODEL, route=ROUTE, auth_level=AUTH_LEVEL)


@bp.function_name("iris")
@bp.route(route=ROUTE, methods=["POST"], auth_level=AUTH_LEVEL)
def predict(req: func.HttpRequest) -> func.HttpResponse:
    return simple.predict(req, MODEL, preprocess, postprocess)


@bp.function_name("iris_metadata")
@bp.route(route=ROUTE, methods=["GET"], auth_level=AUTH_LEVEL)
def metadata(req: func.HttpRequest) -> func.HttpResponse:
    return simple.metadata(req, MODEL)


@bp.function_name("iris_v2")
@bp.route(route=OIP_ROUTE, methods=["GET", "POST"], auth_level=AUTH_LEVEL)
def open_inference(req: func.HttpRequest) -> func.HttpResponse:
    return oip.model_endpoint(req, MODEL)
