"""Fuzzing the Open Inference Protocol's infer endpoint: JSON tensors, Triton's binary extension
(``Inference-Header-Content-Length``, ``binary_data_size``, BYTES length prefixes), raw single-input
bodies (header value 0) and compressed bodies."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st

from tests.fuzz.harness import BUDGETS, MODELS, FuzzApp, check_reply, fuzz, oip_binary, strict_json
from tests.fuzz.oip_strategies import BAD_LENGTHS, oip_binary_requests, oip_json_requests, raw_bodies
from tests.fuzz.strategies import compressed, dumps, odd_bodies

# float inputs beyond float32/float16 become ±inf, as numpy converts them (and warns)
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")

INFER = frozenset({200, 400, 413, 501})


def _infer(model: str) -> str:
    return f"/api/v2/models/{model}/infer"


def _check_outputs(reply: Any, model: str) -> None:
    """A 200 describes outputs of the model, in a JSON or binary reply."""
    if reply.status != 200:
        return
    if reply.headers["content-type"] == "application/json":
        header = strict_json(reply.body)
    else:
        header, _ = oip_binary(reply)
    assert header["model_name"] == model
    assert {o["name"] for o in header["outputs"]} <= set(MODELS[model][1])


@pytest.mark.parametrize("budget", BUDGETS)
def test_json_tensors(app: FuzzApp, budget: str) -> None:
    def check(case: tuple[str, Any]) -> None:
        model, request = case
        reply = app.inproc("POST", _infer(model), dumps(request))
        check_reply(reply, INFER)
        _check_outputs(reply, model)

    fuzz("oip: JSON tensors", budget, (500, 3000), oip_json_requests(), check)


@pytest.mark.parametrize("budget", BUDGETS)
def test_binary_tensors(app: FuzzApp, budget: str) -> None:
    def check(case: tuple[str, bytes, dict[str, str]]) -> None:
        model, body, headers = case
        reply = app.inproc("POST", _infer(model), body, headers)
        check_reply(reply, INFER)
        _check_outputs(reply, model)

    fuzz("oip: binary tensors", budget, (500, 3000), oip_binary_requests(), check)


@pytest.mark.parametrize("budget", BUDGETS)
def test_raw_single_input_bodies(app: FuzzApp, budget: str) -> None:
    """``Inference-Header-Content-Length: 0``: the body is one input's bytes (any length, any model)."""
    cases = raw_bodies().flatmap(lambda case: st.tuples(st.just(case[0]), compressed(case[1])))

    def check(case: tuple[str, tuple[bytes, dict[str, str]]]) -> None:
        model, (body, headers) = case
        reply = app.inproc("POST", _infer(model), body, {"Inference-Header-Content-Length": "0", **headers})
        check_reply(reply, INFER)
        _check_outputs(reply, model)

    fuzz("oip: raw bodies", budget, (300, 1500), cases, check)


@pytest.mark.parametrize("budget", BUDGETS)
def test_odd_bodies_and_header_lengths(app: FuzzApp, budget: str) -> None:
    valid = oip_json_requests().map(lambda case: dumps(case[1]))
    lengths = st.none() | st.integers(-5, 300).map(str) | st.sampled_from(BAD_LENGTHS)
    cases = st.tuples(st.sampled_from(sorted(MODELS)), odd_bodies(valid), lengths)

    def check(case: tuple[str, bytes, str | None]) -> None:
        model, body, length = case
        headers = {"Inference-Header-Content-Length": length} if length is not None else {}
        check_reply(app.inproc("POST", _infer(model), body, headers), INFER)

    fuzz("oip: odd bodies", budget, (400, 2000), cases, check)
