"""Route templates as the Functions host (ASP.NET Core routing) matches them."""

from __future__ import annotations

import pytest

from framework.emulator.routing import Route, RouteTable, compile_route
from framework.errors import EmulatorError

TEMPLATE_CASES = [
    ("iris", "iris", {}),
    ("iris", "IRIS/", {}),
    ("iris", "iris/extra", None),
    ("models/{name}", "models/resnet", {"name": "resnet"}),
    ("items/{id:int?}", "items", {}),
    ("items/{id:int?}", "items/42", {"id": "42"}),
    ("items/{id:int?}", "items/x", None),
    ("items/{id:int}", "items/99999999999", None),
    ("items/{id:long}", "items/99999999999", {"id": "99999999999"}),
    ("files/{*rest}", "files/a/b/c.onnx", {"rest": "a/b/c.onnx"}),
    ("files/{*rest}", "files", {}),
    ("{file}.{ext}", "model.onnx", {"file": "model", "ext": "onnx"}),
    ("c/{name:alpha}", "c/Abc", {"name": "Abc"}),
    ("c/{name:alpha}", "c/a1", None),
    ("c/{flag:bool}", "c/TRUE", {"flag": "TRUE"}),
    ("c/{g:guid}", "c/0f8fad5b-d9cb-469f-a165-70867728950e", {"g": "0f8fad5b-d9cb-469f-a165-70867728950e"}),
    ("c/{g:guid}", "c/nope", None),
    ("c/{d:double}", "c/1.5e3", {"d": "1.5e3"}),
    ("c/{s:minlength(3):maxlength(4)}", "c/abcd", {"s": "abcd"}),
    ("c/{s:minlength(3)}", "c/ab", None),
    ("c/{s:length(2)}", "c/ab", {"s": "ab"}),
    ("c/{s:length(2,3)}", "c/abcd", None),
    ("c/{n:range(1,10)}", "c/10", {"n": "10"}),
    ("c/{n:min(5)}", "c/4", None),
    ("c/{n:max(5)}", "c/5", {"n": "5"}),
    ("c/{zip:regex(^\\d{{5}}$)}", "c/12345", {"zip": "12345"}),
    ("c/{zip:regex(^\\d{{5}}$)}", "c/1234", None),
    ("c/{v=latest}", "c", {"v": "latest"}),
    ("lit{{x}}", "lit{x}", {}),
]


@pytest.mark.parametrize(("template", "path", "expected"), TEMPLATE_CASES)
def test_templates(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert compile_route(template).match(path) == expected


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("c/{x:nope}", "unknown route constraint"),
        ("c/{x", "unclosed"),
        ("c/x}", "unmatched"),
        ("{*rest}/more", "catch-all parameter must be the last segment"),
        ("{a}/{a}", "appears twice"),
        ("c/{x:range(1)}", "takes 2 argument"),
    ],
)
def test_bad_templates_are_reported(template: str, fragment: str) -> None:
    with pytest.raises(EmulatorError, match=fragment):
        compile_route(template)


def test_literal_routes_take_precedence_over_parameters() -> None:
    literal, param, catch_all = compile_route("m/latest"), compile_route("m/{v}"), compile_route("m/{*rest}")
    assert sorted([catch_all, param, literal], key=lambda r: r.precedence) == [literal, param, catch_all]


def first_match(routes: list[tuple[Route, str]], path: str) -> tuple[str, dict[str, str]] | None:
    for route, name in routes:
        if (values := route.match(path)) is not None:
            return name, values
    return None


def test_the_route_table_matches_like_a_full_scan_in_precedence_order() -> None:
    """Every route template of this file plus an app of 100 models (3 routes each, the app-wide OIP,
    OpenAPI and docs routes), against every path of this file and more: the first route the table's
    candidates match is the first route a scan of all routes in precedence order matches."""
    templates = {template for template, _, _ in TEMPLATE_CASES} | {"", "{name}", "m/latest", "m/{v}", "m/{*rest}"}
    for index in range(100):
        templates |= {f"m{index}", f"v2/models/m{index}/{{*rest}}"}
    templates |= {"v2/{*rest}", "openapi.json", "docs/{*asset}", "{*any}"}
    templates |= {"\u017f", "\u0131", "x/\u017f/{y}"}  # long s, dotless i: the regex matches them to s, i
    table = RouteTable([(compile_route(template), template) for template in sorted(templates)])
    more = ["", "/", "M7", "m99/", "V2/Models/M42/infer", "v2/models", "v2/models/m100/infer", "docs", "m/LATEST"]
    more += ["m/x/y", "élan", "Élan/x", "openapi.json/x", "a//b", "s", "S", "i", "I", "x/s/1"]
    paths = {path for _, path, _ in TEMPLATE_CASES} | set(more)
    for path in sorted(paths):
        assert first_match(table.candidates(path), path) == first_match(table.routes, path), path
    # and it tries the routes that start with a parameter plus a couple, not 200+
    anywhere = sum(1 for route, _ in table.routes if not route.literal_prefix)
    assert len(table.candidates("v2/models/m99/infer")) <= anywhere + 2 and len(table.candidates("m99")) <= anywhere + 2
