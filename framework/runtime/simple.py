"""The simple HTTP contract (Azure ML's ONNX scoring convention) for one model.

``POST`` with ``{"data": <nested list>}`` feeds the model's first input; ``{"inputs": {name: value}}``
feeds named inputs; optional ``"outputs": [names]`` limits what is computed. The reply is
``{"result": [...one entry per output...], "time": <inference seconds>}``, or ``"result"`` keyed by
output name when named inputs were sent. ``GET`` returns the model's metadata. Generated route
functions call :func:`predict` and :func:`metadata`; they never raise, every failure is a JSON error.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import azure.functions as func

from framework.errors import BadRequest, FunnxError, InferenceFailed

from . import jsoncodec, settings, telemetry
from .compression import decode_body
from .model import OnnxModel
from .responses import VERSION_HEADER, answers_errors, json_response
from .signature import ModelSignature
from .tensors import check_feeds, has_bool_literals, json_to_array

log = logging.getLogger("funnx.runtime")

Hook = Callable[[dict[str, Any]], Any]

_REQUEST_KEYS = {"data", "inputs", "outputs"}
_FORMS = 'send {"data": <array>} for the first input or {"inputs": {"<name>": <array>, ...}}'


@dataclass(frozen=True)
class SimpleRequest:
    feeds: dict[str, Any]
    outputs: list[str] | None
    named: bool


@telemetry.instrumented("simple")
@answers_errors
def predict(
    req: func.HttpRequest, model: OnnxModel, preprocess: Hook | None = None, postprocess: Hook | None = None
) -> func.HttpResponse:
    """Run one prediction request end to end, against one version of the model; always returns a response."""
    payload, body_has_bools = read_json_object(req)
    loaded = model.get()  # validation and inference both use this version, whatever a refresh does meanwhile
    request = decode_request(payload, loaded.signature, model.name, body_has_bools=body_has_bools)
    feeds = _call_hook("preprocess", preprocess, request.feeds) if preprocess else request.feeds
    if not isinstance(feeds, Mapping):
        raise InferenceFailed("preprocess must return a dict of input name → array")
    feeds = check_feeds(feeds, loaded.signature, model.name)
    outputs, seconds = model.run(loaded, feeds, request.outputs)
    names = request.outputs or loaded.signature.output_names
    result: Any = dict(zip(names, outputs, strict=True))
    if postprocess:
        result = _call_hook("postprocess", postprocess, result)
    payload = {"result": shape_result(result, request.named), "time": seconds}
    return json_response(payload, headers={VERSION_HEADER: loaded.version_label})


@answers_errors
def metadata(req: func.HttpRequest, model: OnnxModel) -> func.HttpResponse:
    """The model's signature and metadata, or 503 with its state while it loads (a readiness probe:
    it starts the load but does not wait for a long one)."""
    loaded = model.ready()
    signature = loaded.signature
    meta = dict(signature.metadata)
    payload = {
        "name": model.name,
        "source": model.source.describe(),
        "etag": loaded.etag,
        "served_version": loaded.version_label,
        "inputs": [spec.as_dict() for spec in signature.inputs],
        "outputs": [spec.as_dict() for spec in signature.outputs],
        **{
            key: meta[key]
            for key in ("producer", "graph_name", "graph_description", "domain", "description", "version")
        },
        "metadata": meta["custom_metadata"],
        "state": model.state,
        "session": {**dataclasses.asdict(loaded.config), "providers": list(loaded.config.providers)},
        "load_ms": loaded.timings,
    }
    if (batching := model.batching_report(loaded)) is not None:
        payload["batching"] = batching
    return json_response(payload, headers={VERSION_HEADER: loaded.version_label})


def read_json_object(req: func.HttpRequest) -> tuple[dict[str, Any], bool]:
    """The body as a JSON object, and whether ``true``/``false`` appear in it (see json_to_array)."""
    body = req.get_body()
    settings.check_body_size(len(body))
    body = decode_body(body, req.headers.get("content-encoding"))
    try:
        payload = jsoncodec.loads(body)
    except (ValueError, RecursionError) as err:
        if not body.strip():  # only looked at on failure: scanning a large body costs time
            raise BadRequest(f"request body is empty: {_FORMS}") from None
        where = f" at line {err.lineno} column {err.colno}" if isinstance(err, json.JSONDecodeError) else ""
        raise BadRequest(f"request body is not valid JSON{where}: {_FORMS}") from None
    if not isinstance(payload, dict):
        raise BadRequest(f"request body must be a JSON object: {_FORMS}")
    return payload, has_bool_literals(body)


def decode_request(
    payload: dict[str, Any], signature: ModelSignature, model: str, *, body_has_bools: bool = True
) -> SimpleRequest:
    unknown = sorted(set(payload) - _REQUEST_KEYS)
    if unknown:
        raise BadRequest(f"unknown field {', '.join(map(repr, unknown))} in the request: {_FORMS}")
    if ("data" in payload) == ("inputs" in payload):
        raise BadRequest(f"the request needs exactly one of 'data' or 'inputs': {_FORMS}")
    if "data" in payload:
        if len(signature.inputs) != 1:
            names = ", ".join(spec.describe() for spec in signature.inputs)
            raise BadRequest(
                f"model '{model}' has {len(signature.inputs)} inputs ({names}); send them by name in 'inputs'"
            )
        first = signature.inputs[0]
        feeds = {first.name: json_to_array(payload["data"], first, body_has_bools=body_has_bools)}
    else:
        named = payload["inputs"]
        if not isinstance(named, dict):
            raise BadRequest("'inputs' must be an object mapping input names to arrays")
        feeds = {}
        for name, value in named.items():
            spec = signature.input(name)
            # Names the model does not declare reach preprocess as plain JSON values (a hook may turn
            # them into model inputs); whatever is left unknown is reported after preprocess.
            feeds[name] = json_to_array(value, spec, body_has_bools=body_has_bools) if spec is not None else value
    return SimpleRequest(
        feeds=feeds, outputs=_requested_outputs(payload.get("outputs"), signature, model), named="inputs" in payload
    )


def _requested_outputs(value: Any, signature: ModelSignature, model: str) -> list[str] | None:
    if value is None:
        return None
    available = signature.output_names
    if not isinstance(value, list) or not value or not all(isinstance(name, str) for name in value):
        raise BadRequest(f"'outputs' must be a non-empty list of output names: {', '.join(available)}")
    unknown = [name for name in value if name not in available]
    if unknown:
        raise BadRequest(
            f"model '{model}' has no output {', '.join(map(repr, unknown))}; it has: {', '.join(available)}"
        )
    if len(set(value)) != len(value):
        raise BadRequest("'outputs' lists a name twice")
    return list(value)


def shape_result(result: Any, named: bool) -> Any:
    """``result`` as a list in output order, or keyed by name for named requests (values stay numpy
    arrays: the JSON encoder writes them directly)."""
    if not isinstance(result, dict):
        return result
    if named:
        return {str(name): value for name, value in result.items()}
    return list(result.values())


def _call_hook(which: str, hook: Hook, value: dict[str, Any]) -> Any:
    try:
        return hook(value)
    except FunnxError:
        raise  # a hook may raise BadRequest etc. on purpose
    except Exception as err:
        log.exception("funnx %s hook failed", which)
        raise InferenceFailed(f"the {which} hook failed: {type(err).__name__}: {err}") from None
