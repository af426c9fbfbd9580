"""``Content-Encoding: gzip|deflate`` on requests and ``Accept-Encoding`` on responses.

Decompression stops one byte past the body limit, so a small "zip bomb" cannot expand into memory.
Multi-member gzip bodies (RFC 1952) are joined; trailing bytes after the data are refused.
"""

from __future__ import annotations

import zlib

from framework.errors import BadRequest

from .settings import body_limit, check_body_size, too_large

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decode_body(body: bytes, content_encoding: str | None) -> bytes:
    """The body as sent, decompressed. A gzip body may hold several members (RFC 1952), which are
    joined; anything after the last member, or after a deflate stream, is refused."""
    if not content_encoding:
        return body
    encoding = content_encoding.strip().lower()
    if encoding == "identity":
        return body
    if encoding not in _WBITS:
        raise BadRequest(f"Content-Encoding {encoding!r} is not supported; use gzip or deflate")
    if encoding == "deflate":
        try:
            return _inflate(body, _WBITS[encoding], encoding)
        except zlib.error:  # some clients send raw deflate without the zlib wrapper
            try:
                return _inflate(body, -zlib.MAX_WBITS, encoding)
            except zlib.error:
                raise BadRequest("the body is not valid deflate data") from None
    try:
        return _inflate(body, _WBITS[encoding], encoding, members=True)
    except zlib.error:
        raise BadRequest(f"the body is not valid {encoding} data") from None


def _inflate(body: bytes, wbits: int, encoding: str, *, members: bool = False) -> bytes:
    """Decompress, stopping one byte past the body limit (a small "zip bomb" never fills memory)."""
    limit = body_limit()
    parts: list[bytes] = []
    size = 0
    rest = body
    while True:
        decoder = zlib.decompressobj(wbits)
        part = decoder.decompress(rest, limit + 1 - size)
        parts.append(part)
        size += len(part)
        check_body_size(size, "the decompressed body")
        if not decoder.eof:
            if decoder.unconsumed_tail:  # stopped at the limit with more to come
                raise too_large("the decompressed body")
            raise BadRequest(f"the {encoding} body is truncated")
        rest = decoder.unused_data
        if not rest:
            return b"".join(parts)
        if not members:
            raise BadRequest(f"the {encoding} body has {len(rest)} bytes of trailing data after its end")
        if not rest.startswith(b"\x1f\x8b"):  # not another gzip member: junk after the last one
            raise BadRequest(f"the {encoding} body has {len(rest)} bytes of trailing data after its last member")


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
