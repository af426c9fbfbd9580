"""The apps of the conformance matrix, made the way users make them.

``generated``: ``funnx init`` + ``funnx new adder`` (a model built in code) + a hand-written
``probe`` module showing what a function sees and sends (query, headers, cookies, context, two
functions on one route with different methods, failures). ``warmup``: the same with
``funnx new --warmup``, so funnx registers its warmup trigger. The mistake variants are copies of
``generated`` with its model module hand-edited the way a user might.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import run_cli
from tests.models import add_one

PROBE_MODULE = '''
"""Hand-written functions next to the generated ones: they show what the worker hands a function."""

import json

import azure.functions as func

bp = func.Blueprint()
ANONYMOUS = func.AuthLevel.ANONYMOUS


@bp.route(route="probe/echo/{tail?}", methods=["GET", "POST"], auth_level=ANONYMOUS)
def probe_echo(req: func.HttpRequest) -> func.HttpResponse:
    seen = {
        "method": req.method,
        "url": req.url,
        "params": dict(req.params),
        "route": dict(req.route_params),
        "headers": {name: value for name, value in req.headers.items() if name.startswith("x-")},
        "content_type": req.headers.get("content-type"),
        "body": req.get_body().decode("latin-1"),
    }
    return func.HttpResponse(json.dumps(seen, sort_keys=True), mimetype="application/json")


@bp.route(route="probe/json", methods=["POST"], auth_level=ANONYMOUS)
def probe_json(req: func.HttpRequest) -> func.HttpResponse:
    try:
        return func.HttpResponse(json.dumps(req.get_json()), mimetype="application/json")
    except ValueError as err:
        return func.HttpResponse(str(err), status_code=400)


@bp.route(route="probe/text", auth_level=ANONYMOUS)
def probe_text(req) -> str:
    return "plain text, é"


@bp.route(route="probe/reply", auth_level=ANONYMOUS)
def probe_reply(req: func.HttpRequest) -> func.HttpResponse:
    reply = func.HttpResponse(b"\\x00made", status_code=201, mimetype="application/x-probe", headers={"X-One": "1"})
    reply.headers.add("X-Multi", "first")
    reply.headers.add("X-Multi", "second")
    reply.headers.add("Set-Cookie", "session=abc; Path=/api; HttpOnly; SameSite=Lax")
    reply.headers.add("Set-Cookie", "theme=dark; Max-Age=60; Secure")
    reply.headers.add("Set-Cookie", "spaced=a b")  # not a valid cookie: azure.functions drops it
    return reply


@bp.route(route="probe/context", auth_level=ANONYMOUS)
def probe_context(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    seen = {
        "function": context.function_name,
        "invocation_id": len(context.invocation_id),
        "traceparent": context.trace_context.trace_parent,
        "directory": context.function_directory.replace("\\\\", "/").rsplit("/", 1)[-1],
        "retries": context.retry_context.retry_count,
    }
    return func.HttpResponse(json.dumps(seen, sort_keys=True), mimetype="application/json")


@bp.route(route="probe/same", methods=["GET"], auth_level=ANONYMOUS)
def probe_same_get(req: func.HttpRequest) -> str:
    return "GET handler"


@bp.route(route="probe/same", methods=["POST", "PUT"], auth_level=ANONYMOUS)
async def probe_same_write(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.get_body(), mimetype="application/octet-stream")


@bp.route(route="probe/boom", auth_level=ANONYMOUS)
def probe_boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("a bug in the function")


@bp.route(route="probe/dict", auth_level=ANONYMOUS)
def probe_dict(req: func.HttpRequest) -> func.HttpResponse:
    return {"not": "a response"}  # type: ignore[return-value]


@bp.route(route="probe/none", auth_level=ANONYMOUS)
def probe_none(req):
    return None


@bp.route(route="probe/str-trigger", auth_level=ANONYMOUS)
def probe_str_trigger(req: str) -> str:
    return "never: the worker cannot bind an HTTP request to a str parameter"
'''

PREDICT = "def predict(req: func.HttpRequest) -> func.HttpResponse:"
ROUTE_DECORATOR = '@bp.route(route=ROUTE, methods=["POST"], auth_level=AUTH_LEVEL)'

#: Hand edits of functions_app/adder.py: (what to replace, with what).
MISTAKES: dict[str, list[tuple[str, str]]] = {
    "returns_dict": [(PREDICT, "def predict(req: func.HttpRequest) -> dict:")],
    "request_dict": [(PREDICT, "def predict(req: dict) -> func.HttpResponse:")],
    "extra_parameter": [(PREDICT, "def predict(req: func.HttpRequest, version: str) -> func.HttpResponse:")],
    "context_not_context": [(PREDICT, "def predict(req: func.HttpRequest, context: str) -> func.HttpResponse:")],
    "returns_none": [(PREDICT, "def predict(req: func.HttpRequest) -> None:")],
    "returns_out": [(PREDICT, "def predict(req: func.HttpRequest) -> func.Out[str]:")],
    "misspelt_annotation": [(PREDICT, "def predict(req: func.HttpRequest) -> func.HttpRespons:")],
    "unknown_name": [(PREDICT, "def predict(req: func.HttpRequest) -> HttpResponse:")],
    "dotted_function_name": [('@bp.function_name("adder")', '@bp.function_name("adder.v2")')],
    "function_named_host": [('@bp.function_name("adder")', '@bp.function_name("host")')],
    "digit_function_name": [('@bp.function_name("adder")', '@bp.function_name("2adder")')],
    "double_underscore_binding": [
        (ROUTE_DECORATOR, ROUTE_DECORATOR[:-1] + ', trigger_arg_name="adder__req")'),
        (PREDICT, "def predict(adder__req: func.HttpRequest) -> func.HttpResponse:"),
        ("simple.predict(req,", "simple.predict(adder__req,"),
    ],
    "duplicate_function_name": [('@bp.function_name("adder_metadata")', '@bp.function_name("adder")')],
    # accepted by Azure (and so by funnx)
    "unannotated": [(PREDICT, "def predict(req):")],
    "returns_str": [(PREDICT, "def predict(req: func.HttpRequest) -> str:")],
    "single_underscore_binding": [
        (ROUTE_DECORATOR, ROUTE_DECORATOR[:-1] + ', trigger_arg_name="adder_req")'),
        (PREDICT, "def predict(adder_req: func.HttpRequest) -> func.HttpResponse:"),
        ("simple.predict(req,", "simple.predict(adder_req,"),
    ],
    "async_handler": [(PREDICT, "async " + PREDICT)],
}


def generated_app(folder: Path, *, warmup: bool = False) -> Path:
    """``funnx init`` + ``funnx new adder`` (anonymous, the add-one model) + the probe module."""
    assert run_cli("init", folder).exit_code == 0
    model = add_one(folder / "models" / "adder.onnx")
    extra = ["--warmup"] if warmup else []
    result = run_cli("new", "adder", "--model", model, "--auth-level", "anonymous", *extra,
                     "--app", folder)  # fmt: skip
    assert result.exit_code == 0, result.output
    (folder / "functions_app" / "probe.py").write_text(PROBE_MODULE.lstrip())
    return folder


def with_mistake(generated: Path, folder: Path, mistake: str) -> Path:
    """A copy of the generated app with functions_app/adder.py edited by hand."""
    shutil.copytree(generated, folder, ignore=shutil.ignore_patterns("__pycache__", ".funnx"))
    module = folder / "functions_app" / "adder.py"
    source = module.read_text()
    for old, new in MISTAKES[mistake]:
        assert old in source, (mistake, old)
        source = source.replace(old, new)
    module.write_text(source)
    return folder
