"""Hypothesis strategies for the HTTP surface: methods, paths (known, unknown, re-cased, re-encoded),
headers and query strings."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from tests.fuzz.strategies import dumps, simple_requests

#: Methods httptools (uvicorn's parser) knows; an unknown token gets uvicorn's own 400 before funnx sees it.
METHODS = ["GET", "POST", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
PATHS = [
    "/api/add",
    "/api/mixed",
    "/api/text",
    "/api/v2",
    "/api/v2/health/live",
    "/api/v2/health/ready",
    "/api/v2/models",
    "/api/v2/models/add",
    "/api/v2/models/add/ready",
    "/api/v2/models/add/infer",
    "/api/v2/models/typed/infer",
    "/api/v2/models/add/versions/1/infer",
    "/api/v2/models/add/versions//infer",
    "/api/v2/models/add/infer/more",
    "/api/v2/models/nope/infer",
    "/api/openapi.json",
    "/api/nope",
    "/api",
    "/",
    "/API/ADD",
    "/api/add/",
    "/api//add",
    "/api/v2/models/ADD/INFER",
    "/api/v2/models/%61dd/infer",
    "/api/add%2Fx",
]
HEADER_NAMES = [
    "content-type",
    "content-encoding",
    "accept-encoding",
    "inference-header-content-length",
    "x-functions-key",
    "origin",
    "traceparent",
    "accept",
    "x-ms-client-request-id",
]
HEADER_VALUES = st.one_of(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=24),
    st.sampled_from(["gzip", "deflate", "identity", "br", "gzip, deflate", "gzip;q=0", "0", "-1", "12"]),
    st.sampled_from(["application/json", "application/octet-stream", "text/plain; charset=latin-1"]),
    st.binary(max_size=12).map(lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F).strip()),
)
QUERIES = st.one_of(
    st.none(),
    st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), max_size=4).map(urlencode),
    st.sampled_from(["code=abc", "%zz", "a=%ff%fe", "&&", "=", "a=1&a=2", "code=&code=x", "x=" + "y" * 4000]),
)


def paths() -> st.SearchStrategy[str]:
    segment = st.text(max_size=8).map(lambda s: quote(s, safe=""))
    return st.one_of(
        st.sampled_from(PATHS),
        st.tuples(st.sampled_from(PATHS), segment).map(lambda t: f"{t[0].rstrip('/')}/{t[1]}"),
        segment.map(lambda s: f"/api/v2/models/{s}/infer"),
    )


@st.composite
def transport_cases(draw: st.DrawFn) -> tuple[str, str, dict[str, Any], str | None, bytes]:
    """(method, path, headers, query, body) for the loopback server."""
    headers: dict[str, Any] = draw(
        st.dictionaries(
            st.sampled_from(HEADER_NAMES) | st.from_regex(r"\Ax-[a-z0-9-]{1,10}\Z"), HEADER_VALUES, max_size=4
        )
    )
    body = draw(st.one_of(st.just(b""), simple_requests().map(lambda mp: dumps(mp[1])), st.binary(max_size=32)))
    return draw(st.sampled_from(METHODS)), draw(paths()), headers, draw(QUERIES), body
