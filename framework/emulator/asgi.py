"""The ASGI face of the dispatcher, served by uvicorn: no HTTP parsing of our own.

The body is not read up front: the request carries a reader the dispatcher calls once the route and
the key are known, so a 404 or 401 costs no body in memory (uvicorn discards it as it arrives, for
a few seconds at most: see protocol.py, which also enforces the body's minimum data rate). The
reader stops as soon as the body is over the limit; the dispatcher answers 413 and the connection
is closed rather than reading the rest.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .dispatch import Dispatcher, RawRequest, join_headers

Scope = dict[str, Any]


class ClientGone(Exception):
    """The connection closed before the body was read (the client left, or was too slow)."""


class BodyReader:
    """One request's body, read when the dispatcher asks for it and no further than its limit."""

    def __init__(self, receive: Any, headers: list[tuple[str, str]]) -> None:
        self._receive = receive
        self._headers = headers
        #: Set when the rest of the body is left unread: the connection must not be reused.
        self.abandoned = False

    async def read(self, limit: int) -> bytes | None:
        """The whole body, or None as soon as it is known to be over ``limit`` bytes."""
        declared = next((value for name, value in self._headers if name == "content-length"), None)
        if declared is None and not any(name == "transfer-encoding" for name, _ in self._headers):
            return b""  # HTTP/1.1: a request with neither has no body
        if declared is not None and declared.isdigit() and int(declared) > limit:
            self.abandoned = True
            return None
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                self.abandoned = True
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


class AsgiApp:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers: list[tuple[str, str]] = []
        joined: dict[str, str] = {}  # what the host hands the worker, built in the same pass
        repeated = False
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers.append((name, value))
            repeated = repeated or name in joined
            joined[name] = value
        if repeated:  # rare: join them in order, in linear time
            joined = join_headers(headers)
        host = joined.get("host")
        if host is None and scope.get("server"):
            server_host, server_port = scope["server"]
            host = f"{server_host}:{server_port}"
        reader = BodyReader(receive, headers)
        request = RawRequest(
            method=scope["method"],
            path=raw_path.decode("latin-1") if (raw_path := scope.get("raw_path")) else quote(scope["path"]),
            query_string=scope.get("query_string", b""),
            headers=headers,
            joined_headers=joined,
            base_url=f"{scope.get('scheme', 'http')}://{host or 'localhost'}",
            read_body=reader.read,
        )
        try:
            response = await self.dispatcher.handle(request)
        except ClientGone:
            return
        response_headers = response.headers
        if reader.abandoned:  # the rest of the body is not read: close rather than reuse the connection
            response_headers = [*response_headers, ("connection", "close")]
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response_headers],
            }
        )
        await send({"type": "http.response.body", "body": response.body})
