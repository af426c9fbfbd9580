"""The direct worker's shortcut for plain ``func.HttpResponse`` replies gives exactly what
azure.functions' own HttpResponseConverter gives (the worker's encoding), response side effects included."""

from __future__ import annotations

from collections.abc import Callable

import azure.functions as func
import pytest

from framework.emulator import direct_invoker
from framework.emulator.direct_invoker import _converted, _encode

RESPONSES: dict[str, Callable[[], func.HttpResponse]] = {
    "json with a header": lambda: func.HttpResponse(b'{"a":1}', mimetype="application/json", headers={"X-V": "1"}),
    "text with a charset": lambda: func.HttpResponse("é", mimetype="text/html", charset="latin-1", status_code=201),
    "defaults": func.HttpResponse,
    "own content type, odd case": lambda: func.HttpResponse(b"x", headers={"Content-TYPE": "image/png", "a": "b"}),
    "repeated names": lambda: _with(func.HttpResponse(b"x"), [("X-R", "1"), ("x-r", "2"), ("X-R", "3")]),
    "no body": lambda: _without_body(func.HttpResponse(status_code=204)),
    "a cookie": lambda: _with(func.HttpResponse(b"c"), [("Set-Cookie", "a=b; Path=/"), ("X-A", "1")]),
    "a cookie, lower case": lambda: _with(func.HttpResponse(b"c"), [("set-cookie", "a=b")]),
}


def _with(response: func.HttpResponse, headers: list[tuple[str, str]]) -> func.HttpResponse:
    for name, value in headers:
        response.headers.add(name, value)
    return response


def _without_body(response: func.HttpResponse) -> func.HttpResponse:
    response._HttpResponse__body = None  # type: ignore[attr-defined]  # a body the library leaves unset
    return response


@pytest.mark.parametrize("name", list(RESPONSES))
def test_plain_responses_encode_as_the_worker_library_does(name: str) -> None:
    ours, theirs = RESPONSES[name](), RESPONSES[name]()
    assert _encode(ours) == _converted(theirs)
    assert list(ours.headers.items()) == list(theirs.headers.items())  # the converter adds content-type to it


def test_the_shortcut_is_taken_for_plain_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    """So the comparison above is between two paths, not one path with itself."""
    calls: list[object] = []
    monkeypatch.setattr(direct_invoker, "_converted", calls.append)
    _encode(RESPONSES["json with a header"]())
    assert calls == []
    _encode(RESPONSES["a cookie"]())
    _encode("text")
    assert len(calls) == 2
