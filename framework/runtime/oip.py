"""Open Inference Protocol (KServe v2) REST endpoints, with Triton's binary tensor extension.

Each model's module routes ``v2/models/<name>/{*rest}`` to :func:`model_endpoint` (metadata,
``ready``, ``infer``, with or without ``versions/<v>``); the app routes ``v2/{*rest}`` to
:func:`server_endpoint` (server metadata, liveness, readiness, and a JSON 404 for unknown models).
The model is served as it is: the simple contract's preprocess/postprocess hooks do not apply here.
Validation, inference and errors go through the same code as the simple contract.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func

from framework import __version__
from framework.errors import NotFound

from . import settings, telemetry
from .catalog import Catalog
from .compression import choose_encoding, decode_body, encode_body
from .datatypes import wire_name
from .loading import LoadedModel
from .model import OnnxModel
from .oip_codec import HEADER_LENGTH, encode_infer_response, parse_infer_request
from .responses import VERSION_HEADER, answers_errors, json_response
from .signature import TensorSpec
from .tensors import check_feeds

#: Smaller responses are sent as they are even when the client accepts gzip: compressing a few
#: hundred bytes costs more time than it saves (web servers use the same kind of threshold).
COMPRESS_FROM_BYTES = 1024
#: Extensions advertised in server metadata (only what is implemented).
EXTENSIONS = ["binary_tensor_data"]
PLATFORM = "onnxruntime_onnx"


def _method_not_allowed(allowed: str) -> func.HttpResponse:
    response = json_response({"error": f"use {allowed} here"}, 405)
    response.headers["Allow"] = allowed
    return response


@answers_errors
def model_endpoint(req: func.HttpRequest, model: OnnxModel) -> func.HttpResponse:
    """Everything under ``v2/models/<name>``: '' (metadata), 'ready', 'infer', each also under versions/<v>."""
    parts = [p for p in (req.route_params.get("rest") or "").split("/") if p]
    loaded = None
    if parts[:1] == ["versions"]:
        version = parts[1] if len(parts) > 1 else ""
        loaded = model.get()
        if version != loaded.model_version:
            served = loaded.model_version
            what = f"it serves version {served}" if served else "it is not a registered, versioned model"
            raise NotFound(f"model '{model.name}' has no version '{version}': {what}")
        parts = parts[2:]
    action = "/".join(parts)
    if action == "infer":
        return infer(req, model, loaded) if req.method == "POST" else _method_not_allowed("POST")
    if req.method != "GET":
        return _method_not_allowed("GET")
    if action == "":
        return json_response(model_metadata(model, loaded or model.get()))
    if action == "ready":  # a probe: starts loading if needed, never waits for a long load
        ready = loaded or model.ready()
        return json_response({"name": model.name, "ready": True, "load_ms": ready.timings})
    raise NotFound(f"no such endpoint: v2/models/{model.name}/{action}")


def _tensor_metadata(spec: TensorSpec) -> dict[str, Any]:
    shape = [-1 if not isinstance(d, int) else d for d in spec.shape] if spec.shape is not None else [-1]
    return {"name": spec.name, "datatype": wire_name(spec.type), "shape": shape}


def model_metadata(model: OnnxModel, loaded: LoadedModel) -> dict[str, Any]:
    signature = loaded.signature
    return {
        "name": model.name,
        "versions": [loaded.model_version] if loaded.model_version else [],
        "platform": PLATFORM,
        "inputs": [_tensor_metadata(spec) for spec in signature.inputs],
        "outputs": [_tensor_metadata(spec) for spec in signature.outputs],
    }


@telemetry.instrumented("oip")
@answers_errors
def infer(req: func.HttpRequest, model: OnnxModel, loaded: LoadedModel | None = None) -> func.HttpResponse:
    """One inference, validated and run against one version of the model (``loaded``, when the URL
    named the version, else the one served now)."""
    body = req.get_body()
    settings.check_body_size(len(body))
    body = decode_body(body, req.headers.get("content-encoding"))
    loaded = loaded or model.get()
    request = parse_infer_request(body, req.headers.get(HEADER_LENGTH), loaded.signature, model.name)
    feeds = check_feeds(request.inputs, loaded.signature, model.name)
    outputs, _seconds = model.run(loaded, feeds, request.outputs)
    names = request.outputs or loaded.signature.output_names
    payload, headers = encode_infer_response(model.name, loaded.model_version, request, names, outputs)
    headers[VERSION_HEADER] = loaded.version_label
    encoding = choose_encoding(req.headers.get("accept-encoding")) if len(payload) >= COMPRESS_FROM_BYTES else None
    if encoding is not None:
        payload = encode_body(payload, encoding)
        headers["Content-Encoding"] = encoding
    return func.HttpResponse(payload, status_code=200, headers=headers)


def _server_ready(catalog: Catalog) -> func.HttpResponse:
    """Ready once every model set to warm up has loaded (the others load on first use). Only models
    callable without a key are named; the others are counted."""
    pending = [entry for entry in catalog.entries if entry.model.warmup and entry.model.state != "ready"]
    if pending:
        named = {entry.model.name: entry.model.state for entry in pending if entry.public}
        hidden = len(pending) - len(named)
        states = [f"{name}: {state}" for name, state in named.items()]
        states += [f"{hidden} model(s) behind keys"] if hidden else []
        body = {"error": f"warming up: {', '.join(states)}", "ready": False, "models": named}
        response = json_response(body, 503)
        response.headers["Retry-After"] = "1"
        return response
    return json_response({"ready": True})


@answers_errors
def server_endpoint(req: func.HttpRequest, catalog: Catalog) -> func.HttpResponse:
    """``v2``, ``v2/health/live``, ``v2/health/ready``, and 404s naming the models callable without a key.

    Anonymous: it loads no model and names none that sits behind a key.
    """
    rest = "/".join(p for p in (req.route_params.get("rest") or "").split("/") if p)
    if rest.startswith("models/"):
        name = rest.split("/")[1]
        known = ", ".join(entry.model.name for entry in catalog.entries if entry.public)
        raise NotFound(f"model '{name}' not found" + (f"; models served without a key: {known}" if known else ""))
    if req.method != "GET":
        return _method_not_allowed("GET")
    if rest == "":
        return json_response({"name": "funnx", "version": __version__, "extensions": EXTENSIONS})
    if rest == "health/live":
        return json_response({"live": True})
    if rest == "health/ready":
        return _server_ready(catalog)
    raise NotFound(f"no such endpoint: v2/{rest}")
