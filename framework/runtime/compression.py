"""``Content-Encoding: gzip|deflate`` on requests and ``Accept-Encoding`` on responses.

Decompression stops one byte past the body limit, so a small "zip bomb" cannot expand into memory.
"""

from __future__ import annotations

import zlib

from framework.errors import BadRequest, PayloadTooLarge

from .settings import body_limit

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decode_body(body: bytes, content_encoding: str | None) -> bytes:
    if not content_encoding:
        return body
    encoding = content_encoding.strip().lower()
    if encoding == "identity":
        return body
    if encoding not in _WBITS:
        raise BadRequest(f"Content-Encoding {encoding!r} is not supported; use gzip or deflate")
    limit = body_limit()
    try:
        decoder = zlib.decompressobj(_WBITS[encoding])
        data = decoder.decompress(body, limit + 1)
    except zlib.error:
        if encoding != "deflate":
            raise BadRequest(f"the body is not valid {encoding} data") from None
        try:  # some clients send raw deflate without the zlib wrapper
            decoder = zlib.decompressobj(-zlib.MAX_WBITS)
            data = decoder.decompress(body, limit + 1)
        except zlib.error:
            raise BadRequest("the body is not valid deflate data") from None
    if len(data) > limit:
        raise PayloadTooLarge(f"the decompressed body is over {limit} bytes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)")
    if not decoder.eof:
        raise BadRequest(f"the {encoding} body is truncated")
    return data


def choose_encoding(accept_encoding: str | None) -> str | None:
    """gzip or deflate when the client accepts it (q=0 excluded), else None."""
    if not accept_encoding:
        return None
    accepted = {}
    for item in (accept_encoding or "").lower().split(","):
        token, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        accepted[token.strip()] = quality
    for encoding in ("gzip", "deflate"):
        if accepted.get(encoding, 0) > 0:
            return encoding
    return None


def encode_body(body: bytes, encoding: str) -> bytes:
    compressor = zlib.compressobj(1, zlib.DEFLATED, _WBITS[encoding])  # level 1: fast, most of the gain
    return compressor.compress(body) + compressor.flush()
