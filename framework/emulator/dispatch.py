"""The dispatch core: one request in, one response out, shared by the uvicorn server and TestClient.

It does what the host does between Kestrel and the worker: match the route under the route prefix
(404 with an empty body when nothing matches, including a wrong method), enforce the body limit,
build a real ``func.HttpRequest``, run sync functions on a thread pool and async ones on the event
loop, and turn the returned ``HttpResponse`` (or ``str``) into status, headers and body. A function
that raises gets a 500 with an empty body and its traceback in the log, as in Azure.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
import uuid
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import azure.functions as func

from framework.runtime import settings
from framework.runtime.responses import dumps

from .loader import HttpFunction
from .routing import Route, compile_route

log = logging.getLogger("funnx.host")

_ENCODED_SLASH = re.compile("%2f", re.IGNORECASE)


@dataclass(frozen=True)
class RawRequest:
    method: str
    path: str  # as sent: still percent-encoded
    query_string: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    base_url: str = "http://localhost:7071"


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class EmulatorContext(func.Context):
    """The ``context`` argument, for functions that declare one."""

    def __init__(self, invocation_id: str, function_name: str, function_directory: str) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def thread_local_storage(self) -> Any:
        return None

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


def decode_path(raw: str) -> str:
    """Percent-decode a request path as ASP.NET Core does: every escape except an encoded '/' (%2F),
    so ``files/a%2Fb`` stays one segment."""
    return "/".join("%2F".join(unquote(part) for part in _ENCODED_SLASH.split(segment)) for segment in raw.split("/"))


def _empty(status: int) -> RawResponse:
    return RawResponse(status, [("content-length", "0")], b"")


class Dispatcher:
    def __init__(self, functions: list[HttpFunction], route_prefix: str, executor: Executor, app_dir: str) -> None:
        self.route_prefix = route_prefix.strip("/")
        self._executor = executor
        self._app_dir = app_dir
        compiled = [(compile_route(f.route), f) for f in functions]
        self.routes: list[tuple[Route, HttpFunction]] = sorted(compiled, key=lambda pair: pair[0].precedence)

    def url_path(self, function: HttpFunction) -> str:
        route = function.route.strip("/")
        return "/" + "/".join(part for part in (self.route_prefix, route) if part)

    def resolve(self, method: str, path: str) -> tuple[HttpFunction, dict[str, str]] | None:
        relative = self._strip_prefix(path)
        if relative is None:
            return None
        for route, function in self.routes:
            if function.methods is not None and method not in function.methods:
                continue
            values = route.match(relative)
            if values is not None:
                return function, values
        return None

    def _strip_prefix(self, path: str) -> str | None:
        path = path.lstrip("/")
        if not self.route_prefix:
            return path
        prefix = self.route_prefix.lower()
        lowered = path.lower()
        if lowered == prefix or lowered.startswith(prefix + "/"):
            return path[len(prefix) :]
        return None

    async def handle(self, request: RawRequest) -> RawResponse:
        method = request.method.upper()
        resolved = self.resolve(method, decode_path(request.path))
        if resolved is None:
            return _empty(404)
        function, route_values = resolved
        limit = settings.body_limit()
        if len(request.body) > limit:
            message = f"request body is over {limit} bytes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)"
            body = dumps({"error": message})
            return RawResponse(413, [("content-type", "application/json"), ("content-length", str(len(body)))], body)
        return await self._invoke(function, route_values, request, method)

    def _build_request(self, request: RawRequest, method: str, route_values: dict[str, str]) -> func.HttpRequest:
        headers: dict[str, str] = {}
        for name, value in request.headers:
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        params: dict[str, str] = {}
        for name, value in parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True):
            params[name] = f"{params[name]},{value}" if name in params else value
        query = f"?{request.query_string.decode('latin-1')}" if request.query_string else ""
        return func.HttpRequest(
            method,
            f"{request.base_url}{request.path}{query}",
            headers=headers,
            params=params,
            route_params=route_values,
            body=request.body,
        )

    async def _invoke(
        self, function: HttpFunction, route_values: dict[str, str], request: RawRequest, method: str
    ) -> RawResponse:
        invocation_id = str(uuid.uuid4())
        kwargs: dict[str, Any] = {function.trigger_arg: self._build_request(request, method, route_values)}
        if function.wants_context:
            kwargs["context"] = EmulatorContext(invocation_id, function.name, self._app_dir)
        log.info(
            "Executing 'Functions.%s' (Reason='This function was programmatically called via the host APIs.', Id=%s)",
            function.name,
            invocation_id,
        )
        started = time.perf_counter()
        try:
            if function.is_async:
                result = await function.handler(**kwargs)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self._executor, functools.partial(function.handler, **kwargs))
            response = _convert(result)
        except Exception:
            log.exception("Executed 'Functions.%s' (Failed, Id=%s)", function.name, invocation_id)
            return _empty(500)
        elapsed = (time.perf_counter() - started) * 1000
        log.info("Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%.0fms)", function.name, invocation_id, elapsed)
        return response


def _convert(result: Any) -> RawResponse:
    """A function's return value as the host would send it."""
    if isinstance(result, str):
        result = func.HttpResponse(result)
    if not isinstance(result, func.HttpResponse):
        raise TypeError(f"an HTTP function must return func.HttpResponse or str, not {type(result).__name__}")
    body = result.get_body()
    headers = [(name.lower(), value) for name, value in result.headers.items()]
    if not any(name == "content-type" for name, _ in headers):
        mimetype = result.mimetype or "text/plain"
        content_type = f"{mimetype}; charset={result.charset}" if mimetype.startswith("text/") else mimetype
        headers.append(("content-type", content_type))
    headers = [(n, v) for n, v in headers if n != "content-length"] + [("content-length", str(len(body)))]
    return RawResponse(result.status_code, headers, body)
