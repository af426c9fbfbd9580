"""uvicorn's httptools protocol with the limits Kestrel puts on connections (see limits.py).

uvicorn parses HTTP with httptools (llhttp) but bounds neither the headers nor the wait for them,
and starts its keep-alive timer only after a first response. This subclass adds, from the parser's
own callbacks and without parsing anything itself:

- request target over ``max_request_line`` → 414; headers over ``max_header_count`` or
  ``max_headers_total`` → 431 (both with a JSON error, then the connection closes). A header line
  that never ends is caught by counting the bytes fed while the headers are incomplete;
- timers: keep-alive from the connection's start too, not only after a response (then close);
  request headers from a request's first byte (then 408); the body's minimum data rate while it
  arrives (then 408); and drain: a body answered without being read (404, 401...) is discarded as
  it arrives for ``body_drain_timeout``, then the connection closes;
- a cap on open connections: at the cap, a new connection replaces an idle one (no request in
  progress); when none is idle, the new one is closed.

Timers are only set when a request does not arrive whole in one read, so the usual request pays
for none of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from http import HTTPStatus
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from framework.runtime.jsoncodec import dumps

from .limits import HttpLimits

log = logging.getLogger("funnx.host")

#: Per header line besides its name and value: ": " and CRLF (httptools strips the optional spaces).
_HEADER_LINE_OVERHEAD = 4
#: How many open connections are looked at for an idle one to close when the cap is reached.
_EVICTION_SCAN = 64


class ConnectionCap:
    """One server's limit on open connections."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._warned = False

    def make_room(self, connections: Collection[object], newcomer: object) -> bool:
        """Whether ``newcomer`` may stay: below the cap, or after closing an idle connection. Looks at
        a few connections only, so a flood costs little per connection; refuses when none is idle."""
        if len(connections) <= self.limit:  # the newcomer included
            return True
        if not self._warned:
            self._warned = True
            log.warning(
                "%d connections are open (the cap, from the file descriptor limit): idle ones are now "
                "closed to make room for new ones",
                self.limit,
            )
        for _, connection in zip(range(_EVICTION_SCAN), connections, strict=False):
            if connection is not newcomer and isinstance(connection, GuardedProtocol) and connection.idle():
                connection.transport.close()
                return True
        return False


class GuardedProtocol(HttpToolsProtocol):
    limits: ClassVar[HttpLimits]
    cap: ClassVar[ConnectionCap]
    #: What a request's line and headers may take in all, before httptools has split them.
    max_head_bytes: ClassVar[int]

    _refused = False
    #: Our one timer: request headers, body data rate, or drain (keep-alive uses uvicorn's own).
    _timer: asyncio.TimerHandle | None = None
    _in_head = False  # a request has begun and its headers are not all here
    _head_bytes = 0  # bytes received for it after its first read (a bound on what httptools holds)
    _header_bytes = 0  # its header lines, as Kestrel counts MaxRequestHeadersTotalSize
    #: The request whose body is still arriving, if any (only the newest request can be), since when,
    #: and how much of it has come.
    _body_of: RequestResponseCycle | None = None
    _body_started = 0.0
    _body_bytes = 0

    # Connection life

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        HttpToolsProtocol.connection_made(self, transport)
        if self.cap.make_room(self.connections, self):
            self._wait_for_request()
        else:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        HttpToolsProtocol.connection_lost(self, exc)

    def handle_websocket_upgrade(self) -> None:
        """The connection leaves HTTP (and the app refuses WebSockets): no more timers."""
        self._cancel_timer()
        HttpToolsProtocol.handle_websocket_upgrade(self)

    def idle(self) -> bool:
        """No request in progress: closing the connection loses nothing but its place."""
        return not self._refused and (self.cycle is None or self.cycle.response_complete)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        head_continues = self._in_head and self.scope
        HttpToolsProtocol.data_received(self, data)
        if self._refused:
            return
        if self._in_head:
            if head_continues is self.scope:  # all of this data was header bytes
                self._head_bytes += len(data)
            self._check_head()
            if self._timer is None and not self._refused:  # the headers are late: their clock starts
                self._set_timer(self.limits.request_headers_timeout, self._headers_timed_out)
        elif self._body_of is not None and self._timer is None:  # a body is on its way: its clock starts
            self._body_started = self.loop.time()
            self._set_timer(self.limits.min_body_rate_grace, self._check_body_rate)

    # Parser callbacks (called by httptools while data_received feeds it)

    def on_message_begin(self) -> None:
        if self._refused:
            return
        HttpToolsProtocol.on_message_begin(self)
        self._in_head = True
        self._head_bytes = self._header_bytes = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + _HEADER_LINE_OVERHEAD
        if len(self.headers) >= self.limits.max_header_count or self._header_bytes > self.limits.max_headers_total:
            self._check_head(one_more_header=True)
        elif not self._refused:
            HttpToolsProtocol.on_header(self, name, value)

    def on_headers_complete(self) -> None:
        if self._refused or (len(self.url) > self.limits.max_request_line and self._check_head()):
            return  # (the headers' count and size were checked one by one)
        self._in_head = False
        if self._timer is not None:  # the headers' clock
            self._cancel_timer()
        HttpToolsProtocol.on_headers_complete(self)
        self._body_of, self._body_bytes = self.cycle, 0

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            self._body_bytes += len(body)
            HttpToolsProtocol.on_body(self, body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        HttpToolsProtocol.on_message_complete(self)
        if self._timer is not None:  # the body's rate, or its drain
            self._cancel_timer()
        drained, self._body_of = self._body_of, None
        if drained is not None and drained.response_complete:  # answered before its body was read
            self._wait_for_request()

    def on_response_complete(self) -> None:
        HttpToolsProtocol.on_response_complete(self)  # arms uvicorn's keep-alive unless a pipelined request starts
        if self.transport.is_closing():
            return
        if self._body_of is not None and self._body_of.response_complete:  # its body is still coming
            self._unset_keepalive_if_required()
            self._set_timer(self.limits.body_drain_timeout, self.transport.close)
        elif self._in_head and self.cycle.response_complete:  # the next request has begun: its headers'
            self._unset_keepalive_if_required()  # clock runs instead of keep-alive

    def _check_head(self, one_more_header: bool = False) -> bool:
        """Refuse the request if its head is over a limit so far; whether it was refused."""
        limits = self.limits
        if self._refused:
            return True
        if len(self.url) > limits.max_request_line:
            self._refuse(414, f"the request URL is over {limits.max_request_line} bytes; send long data in the body")
        elif len(self.headers) + one_more_header > limits.max_header_count:
            self._refuse(431, f"the request has more than {limits.max_header_count} headers; send fewer")
        elif self._header_bytes > limits.max_headers_total or self._head_bytes > self.max_head_bytes:
            self._refuse(431, f"the request headers are over {limits.max_headers_total} bytes; send smaller ones")
        return self._refused

    # Timers and refusals

    def _wait_for_request(self) -> None:
        """Nothing in progress: close after the keep-alive timeout, unless a request has begun."""
        if not self._in_head:
            self._unset_keepalive_if_required()
            close_idle = self.timeout_keep_alive_handler
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, close_idle)

    def _set_timer(self, seconds: float, callback: Callable[[], object]) -> None:
        self._cancel_timer()
        self._timer = self.loop.call_later(seconds, callback)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_timed_out(self) -> None:
        seconds = self.limits.request_headers_timeout
        self._refuse(408, f"the request headers did not arrive within {seconds:g} s of its first byte")

    def _check_body_rate(self) -> None:
        """Kestrel's MinRequestBodyDataRate: after the grace period, the body must have averaged the
        minimum rate since its headers; checked when the bytes so far would stop being enough."""
        self._timer = None
        rate, now = self.limits.min_body_rate, self.loop.time()
        elapsed = now - self._body_started
        if self.flow.read_paused or self._body_bytes >= rate * elapsed:  # on pace, or held back by us
            due = max(self._body_started + self._body_bytes / rate, now + min(1.0, self.limits.min_body_rate_grace))
            self._set_timer(due - now, self._check_body_rate)
            return
        message = (
            f"the request body arrived slower than {rate:g} bytes/s ({self._body_bytes} bytes in {elapsed:.1f} s); "
            "send it faster or make it smaller"
        )
        self._refuse(408, message, answers_current=True)

    def _refuse(self, status: int, message: str, answers_current: bool = False) -> None:
        """Answer ``status`` with a JSON error and close. With a request in flight, the answer is only
        written if it is that request's (``answers_current``) and its response has not started."""
        self._refused = True
        self._cancel_timer()
        log.info("Refused a request with %d: %s", status, message)
        if self.transport.is_closing():
            return
        idle = self.cycle is None or self.cycle.response_complete
        if idle or (answers_current and not self.cycle.response_started):
            self.transport.write(self._error_response(status, message))
        self.transport.close()

    def _error_response(self, status: int, message: str) -> bytes:
        body = dumps({"error": message})
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode()]
        lines += [name + b": " + value for name, value in self.server_state.default_headers]
        lines += [b"content-type: application/json", b"content-length: %d" % len(body), b"connection: close"]
        return b"\r\n".join([*lines, b"", body])


def guarded_protocol(limits: HttpLimits) -> type[GuardedProtocol]:
    """A protocol class for one server: these limits, and its own connection cap."""

    class Guarded(GuardedProtocol):
        pass

    Guarded.limits = limits
    Guarded.max_head_bytes = limits.max_request_line + limits.max_headers_total
    Guarded.cap = ConnectionCap(limits.max_connections)
    return Guarded
