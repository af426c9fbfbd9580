"""The HTTP limits the Functions host enforces through Kestrel, as the emulator applies them.

Values are Kestrel's defaults (``KestrelServerLimits``), which the host keeps, except the body size:
the host raises it to 100 MiB and lets ``FUNCTIONS_REQUEST_BODY_SIZE_LIMIT`` override it, so it is
read per request from that setting (framework.runtime.settings.body_limit). Tests pass shorter
timeouts and a smaller connection cap; nothing else changes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Kept free for everything but client connections: model files, Azurite, logs, the loop itself.
_RESERVED_SHARE = 4  # a quarter of the file descriptor limit
_MIN_CONNECTIONS = 16
_FALLBACK_CONNECTIONS = 1000  # no file descriptor limit to go by (Windows)


def default_max_connections() -> int:
    """Three quarters of this process's file descriptor limit (``ulimit -n``): enough for any load a
    local emulator sees, and the rest stays free, so a flood of idle connections cannot leave the
    emulator unable to open a model file or accept anything at all (Kestrel itself has no cap)."""
    try:
        import resource
    except ImportError:  # Windows
        return _FALLBACK_CONNECTIONS
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return _FALLBACK_CONNECTIONS * 10
    return max(_MIN_CONNECTIONS, soft - soft // _RESERVED_SHARE)


@dataclass(frozen=True)
class HttpLimits:
    #: MaxRequestLineSize: a longer request target is answered 414.
    max_request_line: int = 8 * 1024
    #: MaxRequestHeaderCount: more headers are answered 431.
    max_header_count: int = 100
    #: MaxRequestHeadersTotalSize (header lines with their CRLFs): more is answered 431.
    max_headers_total: int = 32 * 1024
    #: RequestHeadersTimeout, from a request's first byte to the end of its headers: then 408.
    request_headers_timeout: float = 30.0
    #: KeepAliveTimeout (whole seconds, as uvicorn takes it): a connection with no request in
    #: progress is closed after this long.
    keep_alive_timeout: int = 130
    #: MinRequestBodyDataRate: once its grace period is over, a body must have averaged this many
    #: bytes/s since its headers; a slower one is answered 408 and its connection closed.
    min_body_rate: float = 240.0
    min_body_rate_grace: float = 5.0
    #: Kestrel's RequestBodyDrainTimeout: a body answered without being read (404, 401, 429) is read
    #: and discarded for this long so the connection can be reused; then the connection is closed.
    body_drain_timeout: float = 5.0
    #: Open connections; beyond it a new one replaces the one waiting longest for a request.
    max_connections: int = field(default_factory=default_max_connections)
