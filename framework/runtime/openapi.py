"""An OpenAPI 3 document for the app, built from the loaded models' own signatures.

For each model: the simple contract (``POST``/``GET`` on its route, with a request schema whose
arrays follow the inputs' dtypes and fixed dimensions) and the Open Inference Protocol endpoints;
plus the server endpoints. Served at ``GET /<prefix>/openapi.json`` behind a function key (host keys
work), like the models it describes, and written by ``funnx openapi``. Describing a model needs its
signature, so building the document loads every model: only callers with a key can make it do so.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func
import numpy as np

from framework import __version__

from . import examples, settings
from .catalog import Catalog
from .compression import choose_encoding, encode_body
from .datatypes import WIRE_TO_NUMPY
from .hostconfig import read_host_json, route_prefix
from .jsoncodec import dumps
from .model import OnnxModel
from .responses import JSON, answers_errors
from .signature import TensorSpec

_JSON_TYPES = {"f": "number", "i": "integer", "u": "integer", "b": "boolean", "O": "string"}
_ERROR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_KEYS: list[dict[str, list[str]]] = [{"functionKeyHeader": []}, {"functionKeyQuery": []}]


def _tensor_schema(spec: TensorSpec) -> dict[str, Any]:
    """Nested arrays matching the input's rank; fixed dimensions set the array lengths."""
    if spec.dtype is None or spec.shape is None:
        return {"description": f"{spec.type} (passed to onnxruntime as JSON values)"}
    schema: dict[str, Any] = {"type": _JSON_TYPES[spec.dtype.kind]}
    if spec.dtype.kind in "iu":
        info = np.iinfo(spec.dtype)
        schema["minimum"], schema["maximum"] = int(info.min), int(info.max)
    for depth, dim in enumerate(reversed(spec.shape)):
        schema = {"type": "array", "items": schema}
        if isinstance(dim, int):
            schema["minItems"] = schema["maxItems"] = dim
        elif depth:  # an empty outer list would lose the dimensions inside it
            schema["minItems"] = 1
    schema["description"] = spec.describe()
    return schema


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _with_examples(schema: dict[str, Any], found: dict[str, Any] | None, why: str) -> dict[str, Any]:
    """A JSON media type with ``examples`` the model accepts, or a note saying why there are none."""
    if found is not None:
        return {"schema": schema, "examples": found}
    if "$ref" in schema:  # OpenAPI 3.0 ignores a $ref's siblings
        schema = {"allOf": [schema]}
    return {"schema": {**schema, "description": why}}


def _simple_paths(model: OnnxModel, route: str, secured: bool) -> dict[str, Any]:
    loaded = model.get()
    signature = loaded.signature
    outputs = {
        "type": "array",
        "items": {"type": "string", "enum": signature.output_names},
        "minItems": 1,
        "uniqueItems": True,
    }
    # Unknown fields and inputs are refused (400), so the schemas allow no additional properties.
    named: dict[str, Any] = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "inputs": {
                "type": "object",
                "required": signature.input_names,
                "properties": {spec.name: _tensor_schema(spec) for spec in signature.inputs},
                "additionalProperties": False,
            },
            "outputs": outputs,
        },
        "additionalProperties": False,
    }
    forms = [named]
    if len(signature.inputs) == 1:
        forms.insert(
            0,
            {
                "type": "object",
                "required": ["data"],
                "properties": {"data": _tensor_schema(signature.inputs[0]), "outputs": outputs},
                "additionalProperties": False,
            },
        )
    security = {"security": _KEYS} if secured else {}
    errors = {str(code): _ERROR for code in (400, 413, 500, 503)}
    return {
        f"/{route}": {
            "post": {
                "summary": f"Predict with model {model.name}",
                "operationId": f"{model.name}_predict",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": _with_examples(
                            {"oneOf": forms},
                            examples.simple_examples(loaded),
                            examples.why_none(loaded, "simple"),
                        )
                    },
                },
                "responses": {
                    "200": {"description": "prediction", **_json({"$ref": "#/components/schemas/Prediction"})},
                    **errors,
                },
                **security,
            },
            "get": {
                "summary": f"Metadata of model {model.name}",
                "operationId": f"{model.name}_metadata",
                "responses": {
                    "200": {"description": "inputs, outputs and metadata", **_json({"type": "object"})},
                    "503": _ERROR,
                },
                **security,
            },
        },
    }


def _oip_paths(model: OnnxModel, secured: bool) -> dict[str, Any]:
    loaded = model.get()
    security = {"security": _KEYS} if secured else {}
    base = f"/v2/models/{model.name}"
    infer_json = _with_examples(
        {"$ref": "#/components/schemas/InferenceRequest"},
        examples.oip_examples(loaded),
        examples.why_none(loaded, "oip"),
    )
    return {
        base: {
            "get": {
                "summary": f"OIP model metadata: {model.name}",
                "operationId": f"{model.name}_v2_metadata",
                "responses": {
                    "200": {"description": "model metadata", **_json({"type": "object"})},
                    "404": _ERROR,
                    "503": _ERROR,
                },
                **security,
            }
        },
        f"{base}/ready": {
            "get": {
                "summary": f"OIP model readiness: {model.name}",
                "operationId": f"{model.name}_v2_ready",
                "responses": {"200": {"description": "ready"}, "503": _ERROR},
                **security,
            }
        },
        f"{base}/infer": {
            "post": {
                "summary": f"OIP inference: {model.name} (JSON, or Triton's binary tensor extension)",
                "operationId": f"{model.name}_v2_infer",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": infer_json,
                        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                    },
                },
                "responses": {
                    "200": {
                        "description": "inference response",
                        **_json({"$ref": "#/components/schemas/InferenceResponse"}),
                    },
                    **{str(c): _ERROR for c in (400, 413, 500, 501, 503)},
                },
                **security,
            }
        },
    }


_COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
        "Prediction": {
            "type": "object",
            "required": ["result", "time"],
            "properties": {"result": {}, "time": {"type": "number"}},
        },
        "Tensor": {
            "type": "object",
            "required": ["name", "shape", "datatype"],
            "properties": {
                "name": {"type": "string"},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "datatype": {"type": "string", "enum": [*WIRE_TO_NUMPY, "BF16"]},
                "parameters": {"type": "object"},
                "data": {"type": "array"},
            },
        },
        "InferenceRequest": {
            "type": "object",
            "required": ["inputs"],
            "properties": {
                "id": {"type": "string"},
                "parameters": {"type": "object"},
                "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}, "minItems": 1},
                "outputs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}, "parameters": {"type": "object"}},
                    },
                },
            },
        },
        "InferenceResponse": {
            "type": "object",
            "required": ["model_name", "outputs"],
            "properties": {
                "model_name": {"type": "string"},
                "model_version": {"type": "string"},
                "id": {"type": "string"},
                "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}},
            },
        },
    },
    "securitySchemes": {
        "functionKeyHeader": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
        "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
    },
}

_SERVER_PATHS: dict[str, Any] = {
    "/v2": {
        "get": {
            "summary": "OIP server metadata",
            "operationId": "v2_server_metadata",
            "responses": {"200": {"description": "name, version, extensions", **_json({"type": "object"})}},
        }
    },
    "/v2/health/live": {
        "get": {"summary": "OIP liveness", "operationId": "v2_live", "responses": {"200": {"description": "live"}}}
    },
    "/v2/health/ready": {
        "get": {
            "summary": "OIP readiness",
            "operationId": "v2_ready",
            "responses": {"200": {"description": "ready"}, "503": _ERROR},
        }
    },
}


_SERVER_TAG = "OIP server"  # with a space, so no model (named like an identifier) can take it


def document(catalog: Catalog) -> dict[str, Any]:
    """The OpenAPI document for every model of the app (loading each model)."""
    prefix = route_prefix(read_host_json(settings.app_root()))
    paths: dict[str, Any] = {}
    tags = []
    for entry in catalog.entries:
        secured = entry.auth_level != "anonymous"
        model_paths = {**_simple_paths(entry.model, entry.route, secured), **_oip_paths(entry.model, secured)}
        paths.update(_tagged(model_paths, entry.model.name))
        signature = entry.model.get().signature
        described = [f"{what}: " + "; ".join(s.describe() for s in specs) for what, specs in (
            ("Inputs", signature.inputs), ("Outputs", signature.outputs))]  # fmt: skip
        tags.append({"name": entry.model.name, "description": ". ".join(described)})
    paths.update(_tagged(_SERVER_PATHS, _SERVER_TAG))
    return {
        "openapi": "3.0.3",
        "info": {"title": "funnx model functions", "version": __version__},
        "servers": [{"url": f"/{prefix}" if prefix else "/"}],
        "tags": [*tags, {"name": _SERVER_TAG, "description": "Open Inference Protocol server endpoints"}],
        "paths": paths,
        "components": _COMPONENTS,
    }


def _tagged(paths: dict[str, Any], tag: str) -> dict[str, Any]:
    """Operations grouped under ``tag`` (one group per model on the API page)."""
    return {path: {method: {"tags": [tag], **op} for method, op in ops.items()} for path, ops in paths.items()}


@answers_errors
def endpoint(req: func.HttpRequest, catalog: Catalog) -> func.HttpResponse:
    """The document, gzipped for clients that take it: an image model's examples are megabytes of zeros."""
    body, headers = dumps(document(catalog)), {"Vary": "Accept-Encoding"}
    if choose_encoding(req.headers.get("accept-encoding")) == "gzip":
        body, headers["Content-Encoding"] = encode_body(body, "gzip"), "gzip"
    return func.HttpResponse(body, headers=headers, mimetype=JSON)
