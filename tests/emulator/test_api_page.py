"""The API page at /api/docs: on where the host runs locally, off in Azure unless FUNNX_DOCS_ENABLED=true
(then a 404 exactly like a route the app does not have), Swagger UI's files served from the installed
package with nothing fetched from elsewhere. The page in a real browser: tests/browser."""

from __future__ import annotations

import gzip
import logging
import re
import sys
from pathlib import Path

import pytest

from framework.emulator import TestClient
from framework.emulator.host import EmulatorHost
from framework.runtime import apidocs
from tests.conftest import run_cli
from tests.models import add_one

AZURE = {"AZURE_FUNCTIONS_ENVIRONMENT": "Production"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    app = tmp_path_factory.mktemp("docs") / "app"
    assert run_cli("init", app).exit_code == 0
    assert run_cli("new", "add", "--model", add_one(app / "models" / "add.onnx"), "--app", app).exit_code == 0
    return app


def _linked(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_the_page_is_on_locally_and_everything_it_loads_is_served_by_the_app(app: Path) -> None:
    with TestClient(app) as client:  # the emulator, like func start, says AZURE_FUNCTIONS_ENVIRONMENT=Development
        page = client.get("/api/docs")
        assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
        assert "default-src 'none'" in page.headers["content-security-policy"]  # the browser fetches nothing else
        assert 'data-spec="/api/openapi.json"' in page.text
        linked = _linked(page.text)
        assert len(linked) == 4 and all(url.startswith("/api/docs/") for url in linked)
        for url in linked:
            asset = client.get(url)
            assert asset.status_code == 200 and asset.body, url
        script = next(url for url in linked if url.endswith("swagger-ui-bundle.js"))
        plain, packed = client.get(script), client.get(script, headers={"accept-encoding": "gzip, br"})
        assert packed.headers["content-encoding"] == "gzip" and gzip.decompress(packed.body) == plain.body
        assert len(packed.body) < len(plain.body) / 3
        assert "immutable" in plain.headers["cache-control"]
        assert plain.headers["content-type"].startswith("text/javascript")
        assert client.get("/api/docs/").text == page.text
        for missing in ("/api/docs/0.0.0/swagger-ui-bundle.js", "/api/docs/nope.js", script + "x"):
            assert (client.get(missing).status_code, client.get(missing).body) == (404, b"")


@pytest.mark.parametrize(
    ("settings", "on"),
    [
        (AZURE, False),
        ({**AZURE, "FUNNX_DOCS_ENABLED": "true"}, True),
        ({**AZURE, "FUNNX_DOCS_ENABLED": "1"}, True),
        ({"FUNNX_DOCS_ENABLED": "false"}, False),  # off locally too
        ({"FUNNX_DOCS_ENABLED": "False"}, False),
    ],
)
def test_the_setting_turns_the_page_on_and_off_like_an_unknown_route(
    app: Path, settings: dict[str, str], on: bool
) -> None:
    with TestClient(app, settings=settings) as client:
        unknown = client.get("/api/no-such-route")
        page = client.get("/api/docs")
        asset = client.get(_linked(page.text)[0]) if on else client.get("/api/docs/5.31.0/swagger-ui.css")
        if on:
            assert (page.status_code, asset.status_code) == (200, 200)
        else:
            for answer in (page, asset):
                assert (answer.status_code, answer.body) == (unknown.status_code, unknown.body) == (404, b"")


def test_a_setting_that_is_not_true_or_false_leaves_the_page_off_and_says_so(
    app: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), TestClient(app, settings={"FUNNX_DOCS_ENABLED": "maybe"}) as client:
        assert client.get("/api/docs").status_code == 404
    assert "FUNNX_DOCS_ENABLED='maybe' is not true or false; the API page stays off" in caplog.text


def test_turned_on_without_the_asset_package_the_page_says_what_to_install(
    app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an Azure app with FUNNX_DOCS_ENABLED=true and no swagger-ui-bundle-v2 in requirements.txt answers."""
    monkeypatch.setitem(sys.modules, "swagger_ui_bundle", None)  # None in sys.modules: the import fails
    monkeypatch.setattr(apidocs, "_bundle", None)
    with TestClient(app, settings={**AZURE, "FUNNX_DOCS_ENABLED": "true"}) as client:
        answer = client.get("/api/docs")
    assert answer.status_code == 500
    assert answer.json() == {
        "error": "the API page needs the swagger-ui-bundle-v2 package: add 'swagger-ui-bundle-v2==5.31.0' to "
        "requirements.txt, or turn the page off (FUNNX_DOCS_ENABLED=false)"
    }


def test_with_keys_enforced_the_page_opens_without_one_and_the_document_needs_one(app: Path) -> None:
    """The page is static (no model information); the document it fetches is behind a key, which the
    page passes on from ?code= (its script, driven in tests/browser)."""
    host = EmulatorHost(app, enforce_keys=True)
    try:
        with TestClient(host=host) as client:
            assert host.keys is not None
            key = host.keys.host["default"]
            assert client.get("/api/docs").status_code == 200
            assert client.get("/api/docs", params={"code": key}).status_code == 200
            assert client.get("/api/openapi.json").status_code == 401
            assert client.get("/api/openapi.json", headers={"x-functions-key": key}).status_code == 200
    finally:
        host.close()


def test_add_refuses_a_route_under_docs(app_dir: Path) -> None:
    refused = run_cli("new", "docs", "--model", "az://models/x.onnx", "--app", app_dir)
    assert refused.exit_code == 1 and "route 'docs' starts with a reserved segment" in refused.output
