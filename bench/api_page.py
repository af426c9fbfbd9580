"""``python -m bench.api_page``: the API page's cost, measured the way a person meets it.

``funnx start`` (a child process) serves an app with two models (iris, mixed); Debian's chromium,
headless and driven by Playwright, opens /api/docs. Reported: the bytes each file of the page takes
(as stored and as sent with gzip), the time from navigation to every operation shown (the first
load, when the models load and the examples' sizes are searched, then fresh browsers with an empty
cache, then reloads with Swagger UI's files cached), and "Try it out" → Execute on one example. Needs
chromium (scripts/setup.sh installs it on Debian).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from framework.emulator.azurite import free_port

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update"]  # fmt: skip
#: Milliseconds from navigation start until Swagger UI shows the operations.
SHOWN = "document.querySelectorAll('.opblock').length > 0 && performance.now()"


def _make_app(root: Path) -> Path:
    from tests.conftest import run_cli
    from tests.models import iris_path, mixed_inputs

    app = root / "app"
    assert run_cli("init", app).exit_code == 0
    for name, model in {"iris": iris_path(), "mixed": mixed_inputs(app / "models" / "mixed.onnx")}.items():
        assert run_cli("new", name, "--model", model, "--app", app).exit_code == 0
    return app


@contextlib.contextmanager
def _funnx_start(app: Path) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "framework.cli.main", "start", "--app", str(app), "--port", str(port), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/health/live", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("funnx start did not answer") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _get(url: str, gzip_ok: bool) -> tuple[int, int]:
    """(bytes as stored, bytes sent) for one GET."""
    headers = {"Accept-Encoding": "gzip"} if gzip_ok else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as reply:
        sent = reply.read()
        plain = gzip.decompress(sent) if reply.headers.get("Content-Encoding") == "gzip" else sent
    return len(plain), len(sent)


def asset_sizes(url: str) -> dict[str, tuple[int, int]]:
    page = urllib.request.urlopen(f"{url}/api/docs").read().decode()
    paths = ["/api/docs", *re.findall(r'(?:src|href)="([^"]+)"', page), "/api/openapi.json"]
    return {path: _get(url + path, gzip_ok=True) for path in paths}


def page_times(url: str, runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    def shown(page: Any) -> float:
        return float(page.wait_for_function(SHOWN).json_value())

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            first_context = browser.new_context()
            page = first_context.new_page()
            page.goto(f"{url}/api/docs")
            first = shown(page)
            empty_cache, cached = [], []
            for _ in range(runs):
                context = browser.new_context()
                page = context.new_page()
                page.goto(f"{url}/api/docs")
                empty_cache.append(shown(page))
                page.reload()
                cached.append(shown(page))
                context.close()
            page = first_context.new_page()
            page.goto(f"{url}/api/docs")
            shown(page)
            operation = page.locator("#operations-mixed-mixed_predict")
            started = time.perf_counter()
            operation.locator(".opblock-summary").click()
            operation.get_by_role("button", name="Try it out").click()
            operation.get_by_role("button", name="Execute").click()
            operation.locator(".live-responses-table .response-col_status").first.wait_for()
            try_it_ms = (time.perf_counter() - started) * 1000
        finally:
            browser.close()
    return {
        "first_load_ms": round(first),
        "empty_cache_ms": round(statistics.median(empty_cache)),
        "cached_ms": round(statistics.median(cached)),
        "try_it_out_execute_ms": round(try_it_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="funnx-page-") as folder, _funnx_start(_make_app(Path(folder))) as url:
        times = page_times(url, args.runs)
        sizes = asset_sizes(url)
    for path, (stored, sent) in sizes.items():
        print(f"{path:48} {stored:>9,} bytes, {sent:>9,} sent")
    stored = sum(s for path, (s, _) in sizes.items() if path != "/api/openapi.json")
    sent = sum(s for path, (_, s) in sizes.items() if path != "/api/openapi.json")
    print(f"{'the page without the document':48} {stored:>9,} bytes, {sent:>9,} sent")
    print(json.dumps(times, indent=2))


if __name__ == "__main__":
    main()
