"""The dispatch core: one request in, one response out, shared by the uvicorn server and TestClient.

It does what the host does between Kestrel and the worker: answer CORS preflights, match the route
under the route prefix (404 with an empty body when nothing matches, including a wrong method),
throttle (429 beyond host.json's limits), enforce keys (401, empty) and then the body limit (413,
with a JSON error; a streamed body is read only then), build a real ``func.HttpRequest``, run sync
functions on a thread pool and async ones on the event loop, and turn the returned ``HttpResponse``
(or ``str``) into status, headers and body.
A function that raises gets a 500 with an empty body and its traceback in the log, as in Azure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from framework.runtime import settings
from framework.runtime.jsoncodec import dumps

from .cors import CorsPolicy
from .hostjson import HttpOptions
from .invocation import FunctionFailed, HostRequest, Invoker
from .keys import FunctionKeys
from .loader import HttpFunction
from .routing import Route, RouteTable, compile_route

log = logging.getLogger("funnx.host")

_ENCODED_SLASH = re.compile("%2f", re.IGNORECASE)


@dataclass  # not frozen: a streamed body is put in place once read (dataclasses.replace costs ~3 us)
class RawRequest:
    method: str
    path: str  # as sent: still percent-encoded
    query_string: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    base_url: str = "http://localhost:7071"
    #: The socket server's body, read on demand: called with the size limit once the route and the key
    #: are known, it returns the body, or None as soon as it is over the limit. None: ``body`` is whole.
    read_body: Callable[[int], Awaitable[bytes | None]] | None = None
    #: ``headers`` as the host passes them on (names lower-cased, repeated values joined with ","), when
    #: the caller built them already; None: made from ``headers``.
    joined_headers: dict[str, str] | None = None


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def decode_path(raw: str) -> str:
    """Percent-decode a request path as ASP.NET Core does: every escape except an encoded '/' (%2F),
    so ``files/a%2Fb`` stays one segment."""
    if "%" not in raw:
        return raw  # the usual path: nothing to decode
    return "/".join("%2F".join(unquote(part) for part in _ENCODED_SLASH.split(segment)) for segment in raw.split("/"))


def _empty(status: int, *headers: tuple[str, str]) -> RawResponse:
    return RawResponse(status, [*headers, ("content-length", "0")], b"")


def _given_key(headers: list[tuple[str, str]], query: list[tuple[str, str]]) -> str:
    """The key a request carries, as the host reads it: the x-functions-key header whenever it is
    present (even empty; surrounding whitespace trimmed, as Kestrel trims header values), else the
    code query parameter; the first value of either."""
    header = next((value for name, value in headers if name.lower() == "x-functions-key"), None)
    if header is not None:
        return header.strip()
    return next((value for name, value in query if name == "code"), "")


def _joined(pairs: list[tuple[str, str]], separator: str, lower: bool) -> dict[str, str]:
    """One value per name, repeated names' values joined in order; linear in the number of pairs."""
    joined: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for name, value in pairs:
        key = name.lower() if lower else name
        if key not in joined:
            joined[key] = value
        elif key in repeated:
            repeated[key].append(value)
        else:
            repeated[key] = [joined[key], value]
    for key, values in repeated.items():
        joined[key] = separator.join(values)
    return joined


def join_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Headers as the host passes them on: names lower-cased, repeated values joined with "," in order
    (as Kestrel's StringValues.ToString() joins them)."""
    return _joined(headers, ",", lower=True)


async def _body_within(request: RawRequest, limit: int) -> bytes | None:
    """The request's body if it is at most ``limit`` bytes, else None."""
    if request.read_body is None:
        return request.body if len(request.body) <= limit else None
    return await request.read_body(limit)


class Dispatcher:
    def __init__(
        self,
        functions: list[HttpFunction],
        options: HttpOptions,
        invoker: Invoker,
        *,
        cors: CorsPolicy | None = None,
        keys: FunctionKeys | None = None,
    ) -> None:
        self.options = options
        self.route_prefix = options.route_prefix.strip("/")
        self.cors = cors
        self.keys = keys
        self.invoker = invoker
        # Counted across threads: the loopback server and TestClient may share one dispatcher, each
        # with its own event loop, so asyncio primitives cannot be used here.
        self._outstanding = 0
        self._count_lock = threading.Lock()
        limit = options.max_concurrent_requests
        self._running = threading.BoundedSemaphore(limit) if limit is not None else None
        self._custom_headers = [(name.lower(), value) for name, value in options.custom_headers.items()]
        self._table = RouteTable([(compile_route(f.route), f) for f in functions])
        self.routes: list[tuple[Route, HttpFunction]] = self._table.routes

    @property
    def running_calls(self) -> int:
        """Sync function calls still executing on worker threads (they outlive a cancelled request)."""
        return self.invoker.running_calls

    def url_path(self, function: HttpFunction) -> str:
        route = function.route.strip("/")
        return "/" + "/".join(part for part in (self.route_prefix, route) if part)

    def resolve(self, method: str, path: str) -> tuple[HttpFunction, dict[str, str]] | None:
        relative = self._strip_prefix(path)
        if relative is None:
            return None
        for route, function in self._table.candidates(relative):
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
        headers = request.joined_headers
        if headers is None:
            headers = join_headers(request.headers)
        response = await self._respond(request, headers)
        extra = self._custom_headers
        if self.cors is not None:
            extra = extra + self.cors.headers(headers.get("origin"))
        if not extra:
            return response
        present = {name for name, _ in response.headers}
        added = [(k, v) for k, v in extra if k not in present]  # like the host's TryAdd: the function's value wins
        return RawResponse(response.status, response.headers + added, response.body)

    async def _respond(self, request: RawRequest, headers: dict[str, str]) -> RawResponse:
        method = request.method.upper()
        if self.cors is not None:
            preflight = self.cors.preflight(method, headers)
            if preflight is not None:
                return _empty(204, *preflight)
        resolved = self.resolve(method, decode_path(request.path))
        if resolved is None:
            return _empty(404)
        function, route_values = resolved
        limit = self.options.max_outstanding_requests
        with self._count_lock:
            if limit is not None and self._outstanding >= limit:
                return _empty(429, ("x-function-scaleout", "1"))
            self._outstanding += 1
        try:
            return await self._admitted(request, headers, method, function, route_values)
        finally:
            with self._count_lock:
                self._outstanding -= 1

    async def _admitted(
        self, request: RawRequest, headers: dict[str, str], method: str, function: HttpFunction, route: dict[str, str]
    ) -> RawResponse:
        query = (
            parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True) if request.query_string else []
        )
        if self.keys is not None and not self.keys.authorized(
            function.auth_level, function.name, _given_key(request.headers, query)
        ):
            return _empty(401)
        limit = settings.body_limit()
        body = await _body_within(request, limit)
        if body is None:
            error = dumps({"error": settings.too_large().message})
            return RawResponse(413, [("content-type", "application/json"), ("content-length", str(len(error)))], error)
        request.body, request.read_body = body, None
        params = _joined(query, ",", lower=False)
        if self._running is None:  # no maxConcurrentRequests: no slot to wait for (nor its context manager)
            return await self._invoke(function, self._build_request(request, method, headers, params, route))
        async with self._slot():
            return await self._invoke(function, self._build_request(request, method, headers, params, route))

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        """At most ``maxConcurrentRequests`` functions run at once; the others wait their turn."""
        assert self._running is not None
        await asyncio.to_thread(self._running.acquire)
        try:
            yield
        finally:
            self._running.release()

    def _build_request(
        self, request: RawRequest, method: str, headers: dict[str, str], params: dict[str, str], route: dict[str, str]
    ) -> HostRequest:
        """What the host sends the worker: it leaves out query parameters whose value is empty (``?x=``)."""
        query = f"?{request.query_string.decode('latin-1')}" if request.query_string else ""
        url = f"{request.base_url}{request.path}{query}"
        given = {name: value for name, value in params.items() if value}
        return HostRequest(method, url, headers, given, route, request.body)

    async def _invoke(self, function: HttpFunction, request: HostRequest) -> RawResponse:
        logged = log.isEnabledFor(logging.INFO)
        wants_id = logged or function.wants_context or self.invoker.needs_invocation_id
        invocation_id = str(uuid.uuid4()) if wants_id else ""
        if logged:
            reason = "This function was programmatically called via the host APIs."
            log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", function.name, reason, invocation_id)
        started = time.perf_counter()
        try:
            status, reply_headers, body = await self.invoker.invoke(function, request, invocation_id)
        except FunctionFailed as failed:
            invocation_id = invocation_id or str(uuid.uuid4())  # not made up front when INFO is off
            log.error("Executed 'Functions.%s' (Failed, Id=%s)\n%s", function.name, invocation_id, failed.detail)
            return _empty(500)
        if logged:
            elapsed = (time.perf_counter() - started) * 1000
            log.info(
                "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%.0fms)", function.name, invocation_id, elapsed
            )
        return RawResponse(status, reply_headers, body)
