"""Fuzzing the simple contract (``POST /api/<route>`` with ``data`` or ``inputs``) in-process."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st

from tests.fuzz.harness import BUDGETS, FuzzApp, check_reply, fuzz, strict_json
from tests.fuzz.strategies import compressed, dumps, odd_bodies, simple_requests

# float inputs beyond float32/float16 become ±inf, as numpy converts them (and warns)
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")

SIMPLE = frozenset({200, 400, 413})


def _check_add(payload: dict[str, Any], result: Any) -> None:
    """The oracle for model add (y = x + 1 in float32), whenever a request was accepted."""
    x = payload["data"] if "data" in payload else payload["inputs"]["x"]
    y = result[0] if isinstance(result, list) else result["y"]
    with np.errstate(all="ignore"):
        expected = np.asarray(x, dtype=np.float32) + np.float32(1)
    got = np.array([np.nan if v is None else v for v in y], dtype=np.float32)
    np.testing.assert_array_equal(got, np.where(np.isfinite(expected), expected, np.nan))


@pytest.mark.parametrize("budget", BUDGETS)
def test_near_valid_requests(app: FuzzApp, budget: str) -> None:
    def check(case: tuple[str, Any]) -> None:
        model, payload = case
        reply = app.inproc("POST", f"/api/{model}", dumps(payload))
        check_reply(reply, SIMPLE)
        if reply.status == 200 and model == "add":
            _check_add(payload, strict_json(reply.body)["result"])

    fuzz("simple: near-valid requests", budget, (600, 3000), simple_requests(), check)


@pytest.mark.parametrize("budget", BUDGETS)
def test_odd_bodies(app: FuzzApp, budget: str) -> None:
    """Random bytes, any JSON, NaN/Infinity, huge numbers, nesting up to 100k deep, broken requests."""
    valid = simple_requests().map(lambda case: dumps(case[1]))
    routes = st.sampled_from(["add", "mixed", "typed", "iris", "text", "pix"])

    def check(case: tuple[str, bytes]) -> None:
        route, body = case
        check_reply(app.inproc("POST", f"/api/{route}", body), SIMPLE)

    fuzz("simple: odd bodies", budget, (500, 3000), st.tuples(routes, odd_bodies(valid)), check)


@pytest.mark.parametrize("budget", BUDGETS)
def test_compressed_requests(app: FuzzApp, budget: str) -> None:
    """gzip/deflate bodies (valid, truncated, mislabelled) are decompressed or refused with a 4xx."""
    cases = simple_requests().flatmap(lambda case: st.tuples(st.just(case[0]), compressed(dumps(case[1]))))

    def check(case: tuple[str, tuple[bytes, dict[str, str]]]) -> None:
        route, (body, headers) = case
        check_reply(app.inproc("POST", f"/api/{route}", body, headers), SIMPLE)

    fuzz("simple: compressed", budget, (100, 1000), cases, check)
