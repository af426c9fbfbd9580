"""The API page in a real browser: Debian's chromium, headless, driven by Playwright (no browser download),
against `funnx start --enforce-keys` serving two models. The page loads with nothing fetched beyond the
app, asks for a key, lists every model's operations, and "Try it out" → Execute on each contract's
generated example shows a 200 with the model's outputs.

Skipped without chromium, unless FUNNX_REQUIRE_BROWSER=1 (scripts/test.sh sets it where setup.sh
installs chromium), then it fails.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import funnx_start, run_cli
from tests.models import iris_path, mixed_inputs

CHROMIUM = os.environ.get("FUNNX_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
#: Headless on a machine with no network but loopback: no first-run, sync or update traffic.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update"]  # fmt: skip

if not Path(CHROMIUM).is_file():
    if os.environ.get("FUNNX_REQUIRE_BROWSER") == "1":
        pytest.fail(f"chromium not found at {CHROMIUM}: scripts/setup.sh installs it (apt-get install chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Locator, Page, Route, sync_playwright  # noqa: E402

#: iris: one fixed [3, 2] float input, a seq(map) output; mixed: float, int64 scalar, bool and string inputs.
MODELS = ("iris", "mixed")
OPERATIONS = ("predict", "metadata", "v2_metadata", "v2_ready", "v2_infer")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, host key) of `funnx start --enforce-keys` serving iris and mixed."""
    app = tmp_path_factory.mktemp("try-it") / "app"
    assert run_cli("init", app).exit_code == 0
    models = {"iris": iris_path(), "mixed": mixed_inputs(app / "models" / "mixed.onnx")}
    for name, model in models.items():
        assert run_cli("new", name, "--model", model, "--app", app).exit_code == 0
    keys = json.loads(run_cli("keys", "--json", "--app", app).output)
    with funnx_start(app, "--port", "0", "--enforce-keys", "--quiet") as (url, _):
        yield url, keys["hostKeys"]["default"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A fresh page whose requests beyond this machine are refused and recorded."""
    context = browser.new_context()
    elsewhere: list[str] = []

    def local_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("localhost", "127.0.0.1"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", local_only)
    yield context.new_page(), elsewhere
    context.close()


def _execute(operation: Locator) -> tuple[str, object]:
    """Expand the operation, Try it out, Execute: (status shown, response body shown)."""
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    live = operation.locator(".live-responses-table .response")
    status = live.locator(".response-col_status").inner_text().strip()
    return status, json.loads(live.locator(".response-col_description pre").first.inner_text())


def test_try_it_out_answers_200_for_each_model_and_contract(
    served: tuple[str, str], page: tuple[Page, list[str]]
) -> None:
    url, key = served
    tab, elsewhere = page
    tab.goto(f"{url}/api/docs")
    form = tab.locator("#funnx-key")
    form.wait_for()  # keys are enforced: the document answered 401, so the page asks for one
    assert "need a key" in tab.locator("#funnx-message").inner_text()
    form.locator("input[name=code]").fill(key)
    form.get_by_role("button", name="Open").click()

    tab.locator(".opblock").first.wait_for()
    assert tab.url == f"{url}/api/docs?code={key}"
    shown = set(tab.eval_on_selector_all(".opblock", "blocks => blocks.map(b => b.id)"))
    for model in MODELS:
        assert {f"operations-{model}-{model}_{op}" for op in OPERATIONS} <= shown

    for model in MODELS:
        status, body = _execute(tab.locator(f"#operations-{model}-{model}_predict"))
        assert status == "200" and isinstance(body, dict) and {"result", "time"} <= set(body), body
        status, body = _execute(tab.locator(f"#operations-{model}-{model}_v2_infer"))
        assert status == "200" and isinstance(body, dict), body
        assert body["model_name"] == model and body["outputs"], body
    assert elsewhere == []


def test_the_page_keeps_to_the_app_when_a_key_is_given_in_its_address(
    served: tuple[str, str], page: tuple[Page, list[str]]
) -> None:
    url, key = served
    tab, elsewhere = page
    loaded: list[str] = []
    tab.on("requestfinished", lambda request: loaded.append(urlsplit(request.url).path))
    tab.goto(f"{url}/api/docs?code={key}")
    tab.locator(".opblock").first.wait_for()
    assert tab.locator("#funnx-key").is_hidden()
    assert {"/api/docs", "/api/openapi.json", "/api/docs/funnx-docs.js"} <= set(loaded)
    assert all(path.startswith("/api/") for path in loaded) and elsewhere == []
