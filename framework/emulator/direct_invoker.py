"""The emulator's own invoker (Python 3.11/3.12, where Azure's worker is not installable): it calls
HTTP functions the way the Python worker does.

Like the worker it builds the request with azure.functions' worker-side ``HttpRequest`` (raw-bytes
body), passes ``context`` only to functions that declare it, runs sync functions on a thread pool
(:mod:`.workers`: at most ``PYTHON_THREADPOOL_THREAD_COUNT`` threads) and awaits async ones on the
event loop, and encodes the return value with azure.functions' own ``HttpResponseConverter`` (so a
``dict`` return fails the same way, and ``Set-Cookie`` headers become cookies). Load-time checks
live in :mod:`.worker_checks`.
"""

from __future__ import annotations

import functools
import traceback
from datetime import datetime
from http.cookies import Morsel
from typing import Any

from azure.functions import HttpResponse
from azure.functions.http import HttpRequest, HttpResponseConverter

from .context import EmulatorContext
from .invocation import Cookie, FunctionFailed, HostRequest, Reply, http_reply, text_reply
from .loader import HttpFunction
from .workers import WorkerPool

WORKER_THREAD_PREFIX = "funnx-worker"
_SAME_SITE = {"lax": 1, "strict": 2, "none": 3}
_GENERIC_TRIGGER_FAILURE = "ValueError: ('unexpected type of data received for the \"generic\" binding ', \"'http'\")"


class DirectInvoker:
    needs_invocation_id = False

    def __init__(self, thread_count: int) -> None:
        self._workers = WorkerPool(thread_count, WORKER_THREAD_PREFIX)

    @property
    def running_calls(self) -> int:
        return self._workers.running_calls

    async def invoke(self, function: HttpFunction, request: HostRequest, invocation_id: str) -> Reply:
        if function.generic_trigger:  # what the worker's generic binding says when handed an HTTP request
            raise FunctionFailed(_GENERIC_TRIGGER_FAILURE)
        kwargs: dict[str, Any] = {
            function.trigger_arg: HttpRequest(
                request.method,
                request.url,
                headers=request.headers,
                params=request.query,
                route_params=request.route_params,
                body_type="bytes",
                body=request.body,
            )
        }
        if function.wants_context:
            kwargs["context"] = EmulatorContext(invocation_id, function.name, function.directory, request.headers)
        try:
            if function.is_async:
                result = await function.handler(**kwargs)
            else:
                result = await self._workers.run(functools.partial(function.handler, **kwargs))
            return _encode(result)
        except Exception as err:
            raise FunctionFailed("".join(traceback.format_exception(err))) from None

    def close(self) -> None:
        self._workers.close()


def _encode(result: Any) -> Reply:
    if type(result) is HttpResponse:  # azure.functions' own class, the usual reply
        plain = _without_cookies(result)
        if plain is not None:
            return plain
    return _converted(result)


def _converted(result: Any) -> Reply:
    """The reply through azure.functions' own ``HttpResponseConverter``, as the worker encodes it."""
    try:
        datum = HttpResponseConverter.encode(result, expected_type=None)
    except NotImplementedError:  # the worker's words for it
        raise TypeError(
            f'unable to encode outgoing TypedData: unsupported type "http" for Python type "{type(result).__name__}"'
        ) from None
    if datum.type == "string":
        return text_reply(datum.value)
    value = datum.value
    cookies = [_cookie(name, morsel) for jar in value["cookies"] or [] for name, morsel in jar.items()]
    headers = {name: header.value for name, header in value["headers"].items()}
    return http_reply(value["status_code"].value, headers, cookies, value["body"].value)


def _without_cookies(response: HttpResponse) -> Reply | None:
    """What ``HttpResponseConverter.encode`` and the host make of a response that sets no cookie
    (None when it sets one): the same steps, content-type added to the response as it does, without
    its two header lookups that each raise and catch a werkzeug KeyError (~15 µs a request)."""
    headers = response.headers
    lines = list(headers.items())
    names = {name.lower() for name, _ in lines}
    if "set-cookie" in names:
        return None
    if "content-type" not in names:
        mimetype = response.mimetype
        content_type = f"{mimetype}; charset={response.charset}" if mimetype.startswith("text/") else f"{mimetype}"
        headers["content-type"] = content_type
        lines.append(("content-type", content_type))
    body = response.get_body()
    return http_reply(str(response.status_code), dict(lines), [], body if body is not None else b"")


def _cookie(name: str, morsel: Morsel[str]) -> Cookie:
    """What the worker sends for one cookie (its RpcHttpCookie), from the library's parsed cookie."""
    expires = morsel["expires"]
    max_age = morsel["max-age"]
    return Cookie(
        name=name,
        value=morsel.value,
        domain=morsel["domain"] or None,
        path=morsel["path"] or None,
        # naive, so read as local time, and whole seconds: the worker does the same
        expires=int(datetime.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT").timestamp()) if expires else None,
        secure=bool(morsel["secure"]),
        http_only=bool(morsel["httponly"]),
        same_site=_SAME_SITE.get(str(morsel["samesite"]).lower(), 0),
        max_age=float(max_age) if max_age not in ("", None) else None,
    )
