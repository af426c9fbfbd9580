"""On every supported Python: `funnx init` + `funnx new` make an app whose generated tests pass and
which `funnx start` serves over HTTP (run here by this interpreter, e.g. .venv-3.13's)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.conftest import run_cli
from tests.models import add_one


def test_a_fresh_app_passes_its_generated_tests_and_serves(tmp_path: Path) -> None:
    app = tmp_path / "app"
    assert run_cli("init", app).exit_code == 0
    model = add_one(app / "models" / "add.onnx")
    assert run_cli("new", "add", "--model", model, "--app", app).exit_code == 0
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=app, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert tested.returncode == 0 and "3 passed" in tested.stdout, tested.stdout + tested.stderr

    start = [sys.executable, "-m", "framework.cli.main", "start", "--app", str(app), "--port", "0", "--quiet"]
    server = subprocess.Popen(start, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    assert server.stdout is not None
    try:
        for line in server.stdout:
            found = re.search(r"Listening on (http://\S+)", line)
            if found:
                break
        else:
            raise AssertionError("funnx start did not start")
        request = urllib.request.Request(f"{found.group(1)}/api/add", data=json.dumps({"data": [1.0, 2.0]}).encode())
        with urllib.request.urlopen(request, timeout=30) as reply:
            assert json.loads(reply.read())["result"] == [[2.0, 3.0]]
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    assert server.returncode == 0
