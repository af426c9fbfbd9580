"""The ASGI face of the dispatcher, served by uvicorn: no HTTP parsing of our own.

Bodies are read up to the size limit and no further; a larger body is answered by the dispatcher
with 413 without buffering the rest.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from framework.runtime import settings

from .dispatch import Dispatcher, RawRequest

Scope = dict[str, Any]


class AsgiApp:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        body = await _read_body(receive, settings.body_limit())
        host = next((v for k, v in headers if k.lower() == "host"), None)
        if host is None and scope.get("server"):
            server_host, server_port = scope["server"]
            host = f"{server_host}:{server_port}"
        request = RawRequest(
            method=scope["method"],
            path=raw_path.decode("latin-1") if (raw_path := scope.get("raw_path")) else quote(scope["path"]),
            query_string=scope.get("query_string", b""),
            headers=headers,
            body=body,
            base_url=f"{scope.get('scheme', 'http')}://{host or 'localhost'}",
        )
        response = await self.dispatcher.handle(request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


async def _read_body(receive: Any, limit: int) -> bytes:
    """The whole body, or its first limit+1 bytes when it is larger (enough to refuse it; uvicorn
    closes the connection on the unread rest)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit or not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body[: limit + 1] if size > limit else body
