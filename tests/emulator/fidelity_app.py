"""A hand-written Functions app exercising what the host does around functions (not a model app)."""

FUNCTION_APP = """
import json
import os
import threading
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
running = {"now": 0, "peak": 0}
lock = threading.Lock()


@app.route(route="items/{id:int}", methods=["GET"])
def item(req: func.HttpRequest) -> func.HttpResponse:
    body = {"id": req.route_params["id"], "query": dict(req.params)}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="items/{name:alpha}", methods=["GET"])
def item_by_name(req: func.HttpRequest) -> str:
    return "name=" + req.route_params["name"]


@app.route(route="files/{*path}")
def files(req: func.HttpRequest) -> str:
    return "path=" + req.route_params.get("path", "")


@app.route(route="opt/{version?}")
def optional(req: func.HttpRequest) -> str:
    return json.dumps(dict(req.route_params))


@app.route(route="ctx", auth_level=func.AuthLevel.FUNCTION)
def ctx(req: func.HttpRequest, context: func.Context) -> str:
    context.thread_local_storage.invocation_id = context.invocation_id  # Microsoft's documented pattern
    return json.dumps({
        "function": context.function_name,
        "has_invocation_id": bool(context.invocation_id),
        "traceparent": context.trace_context.trace_parent,
        "directory_is_app": context.function_directory == os.environ["AzureWebJobsScriptRoot"],
        "retries": context.retry_context.retry_count,
    })


@app.route(route="rank/{name}", methods=["GET"])
def rank_plain(req: func.HttpRequest) -> str:
    return "plain"


@app.route(route="rank/{id:int?}", methods=["GET"])
def rank_constrained(req: func.HttpRequest) -> str:
    return "constrained"


@app.route(route="own-header")
def own_header(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("mine", headers={"X-Content-Type-Options": "mine"})


@app.route(route="admin-only", auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> str:
    return "admin ok"


@app.route(route="echo", methods=["POST"])
async def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.get_body(), mimetype="application/octet-stream")


@app.route(route="boom")
def boom(req: func.HttpRequest) -> str:
    raise RuntimeError("a bug in the function")


@app.route(route="slow")
def slow(req: func.HttpRequest) -> str:
    with lock:
        running["now"] += 1
        running["peak"] = max(running["peak"], running["now"])
    time.sleep(float(req.params.get("seconds", "0.3")))
    with lock:
        running["now"] -= 1
    return "done"


@app.route(route="peak")
def peak(req: func.HttpRequest) -> str:
    return str(running["peak"])
"""

HOST_JSON = {
    "version": "2.0",
    "extensions": {
        "http": {
            "routePrefix": "api",
            "customHeaders": {"X-Content-Type-Options": "nosniff"},
            "maxConcurrentRequests": 2,
            "maxOutstandingRequests": 4,
        }
    },
}

LOCAL_SETTINGS = {
    "IsEncrypted": False,
    "Values": {"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "1000"},
    "Host": {"CORS": "https://allowed.example", "CORSCredentials": True},
}

KEYS = {
    "masterKey": "master-key",
    "hostKeys": {"default": "host-key"},
    "functionKeys": {"ctx": {"default": "ctx-key"}, "admin_only": {"default": "admin-function-key"}},
}
