"""The host's side of one invocation, shared by both invokers: the request the host hands the worker,
and how the host turns the worker's reply into an HTTP response.

The dispatcher routes, throttles and checks keys (the host's job), builds a :class:`HostRequest`
and hands it to an invoker, which runs the function the way the Python worker would: the
:class:`~.direct_invoker.DirectInvoker` calls handlers itself (3.11/3.12, where Azure's worker is
not installable), the :class:`~.runtime_invoker.RuntimeInvoker` goes through azure-functions-runtime
(3.13+). Both hand back what the worker sends the host (an HTTP message or a string) and both render
it here, so the two paths cannot drift apart on the host's part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

if TYPE_CHECKING:
    from .loader import HttpFunction

#: (status, headers, body), as the host writes it to the client.
Reply = tuple[int, list[tuple[str, str]], bytes]


@dataclass(frozen=True)
class HostRequest:
    """An HTTP trigger's input as the host sends it (gRPC ``RpcHttp``): header names lower-cased and
    repeated headers joined with ","; query values joined with "," and empty ones left out; route
    values as strings; the body as raw bytes (the worker asks for raw bytes)."""

    method: str
    url: str
    headers: dict[str, str]
    query: dict[str, str]
    route_params: dict[str, str]
    body: bytes


class FunctionFailed(Exception):
    """The function raised (or returned something the worker cannot send); ``detail`` is the
    worker's report (message and traceback) for the log. The client gets a 500 with an empty body."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Invoker(Protocol):
    """Runs one invocation of an HTTP function, the way the Python worker does."""

    #: Whether every invocation needs an id (the runtime takes one per message).
    needs_invocation_id: bool

    @property
    def running_calls(self) -> int:
        """Sync function calls still running on worker threads (they outlive a cancelled request)."""
        ...

    async def invoke(self, function: HttpFunction, request: HostRequest, invocation_id: str) -> Reply: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Cookie:
    """A ``Set-Cookie`` the function asked for, as the worker passes it on (``RpcHttpCookie``)."""

    name: str
    value: str
    domain: str | None = None
    path: str | None = None
    expires: float | None = None  # seconds since the epoch
    secure: bool = False
    http_only: bool = False
    same_site: int = 0  # 0 unspecified, 1 Lax, 2 Strict, 3 explicit None
    max_age: float | None = None


_SAME_SITE = {1: "lax", 2: "strict", 3: "none"}


def _set_cookie(cookie: Cookie) -> str:
    """The header ASP.NET Core writes for ``Response.Cookies.Append`` (value escaped, path "/" by default)."""
    parts = [f"{cookie.name}={quote(cookie.value, safe='')}"]
    if cookie.expires is not None:
        parts.append("expires=" + datetime.fromtimestamp(cookie.expires, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"))
    if cookie.max_age is not None:
        parts.append(f"max-age={int(cookie.max_age)}")
    if cookie.domain:
        parts.append(f"domain={cookie.domain}")
    parts.append(f"path={cookie.path or '/'}")
    if cookie.secure:
        parts.append("secure")
    if cookie.same_site in _SAME_SITE:
        parts.append(f"samesite={_SAME_SITE[cookie.same_site]}")
    if cookie.http_only:
        parts.append("httponly")
    return "; ".join(parts)


def http_reply(status_code: str, headers: dict[str, str], cookies: list[Cookie], body: bytes) -> Reply:
    """The host's response for an HTTP message from the worker: its status, headers and cookies, and
    the body as sent (the host's raw result, no content negotiation)."""
    lines = [(name.lower(), value) for name, value in headers.items() if name.lower() != "content-length"]
    lines += [("set-cookie", _set_cookie(cookie)) for cookie in cookies]
    lines.append(("content-length", str(len(body))))
    return int(status_code), lines, body


def text_reply(text: str) -> Reply:
    """The host's response when a function returns a plain string: 200, text/plain."""
    body = text.encode("utf-8")
    return 200, [("content-type", "text/plain; charset=utf-8"), ("content-length", str(len(body)))], body
