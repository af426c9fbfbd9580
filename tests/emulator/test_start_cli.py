"""`funnx start` as users run it (a subprocess): flags, Azurite, reload; plus `funnx keys`."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from framework.emulator.azurite import free_port
from tests.conftest import AzuriteService, funnx_start, run_cli
from tests.emulator.fidelity_app import FUNCTION_APP, HOST_JSON
from tests.models import add_one, iris_path


def fidelity(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "function_app.py").write_text(FUNCTION_APP)
    (app / "host.json").write_text(json.dumps(HOST_JSON))
    (app / "local.settings.json").write_text('{"IsEncrypted": false, "Values": {}}')
    return app


def test_functions_cors_and_keys_flags(tmp_path: Path) -> None:
    app = fidelity(tmp_path)
    args = [
        "--port",
        "0",
        "--functions",
        "item",
        "ctx",
        "--cors",
        "https://a.example",
        "--cors-credentials",
        "--enforce-keys",
    ]
    with funnx_start(app, *args) as (url, banner):
        listed = [line.strip().split(":")[0] for line in banner if line.startswith("\t")]
        assert listed == ["item", "ctx"]
        assert "CORS allowed for: https://a.example, with credentials" in banner
        assert any("Function keys are enforced" in line for line in banner)
        keys = json.loads((app / ".funnx" / "keys.json").read_text())  # created on first use
        with httpx.Client(base_url=url) as http:
            assert http.get("/api/files/x").status_code == 404  # not selected
            assert http.get("/api/ctx").status_code == 401
            assert http.get("/api/ctx", params={"code": keys["functionKeys"]["ctx"]["default"]}).status_code == 200
            preflight = http.options(
                "/api/items/1", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"}
            )
            assert preflight.headers["access-control-allow-credentials"] == "true"


def test_quiet_drops_the_per_request_lines_but_not_failures(tmp_path: Path) -> None:
    app = fidelity(tmp_path)
    with funnx_start(app, "--port", "0", "--quiet") as (url, log), httpx.Client(base_url=url) as http:
        assert http.get("/api/items/7").status_code == 200
        assert http.get("/api/boom").status_code == 500
    assert not any("Executing 'Functions.item'" in line for line in log), log
    assert any(re.search(r"Executed 'Functions.boom' \(Failed, Id=[0-9a-f-]{36}\)", line) for line in log), log
    assert any("RuntimeError: a bug in the function" in line for line in log), log


def test_stop_abandons_only_calls_still_running(tmp_path: Path) -> None:
    """Ctrl+C waits for answers in flight (5 s grace), then leaves a stuck call behind, saying so."""
    app = fidelity(tmp_path)
    with funnx_start(app, "--port", "0") as (url, log):
        assert httpx.get(f"{url}/api/items/7").status_code == 200
    assert not any("abandoned" in line for line in log), log  # finished calls are not "still running"
    with ThreadPoolExecutor(1) as pool, funnx_start(app, "--port", "0") as (url, log):
        stuck = pool.submit(httpx.get, f"{url}/api/slow", params={"seconds": "60"}, timeout=90)
        deadline = time.monotonic() + 10
        while httpx.get(f"{url}/api/peak").text != "1" and time.monotonic() < deadline:
            time.sleep(0.05)  # until the slow call is running
    assert any("1 function call(s) still running were abandoned" in line for line in log), log
    with contextlib.suppress(httpx.HTTPError):
        stuck.result()


def test_port_from_local_settings_and_a_taken_port(tmp_path: Path) -> None:
    app = fidelity(tmp_path)
    port = free_port()
    (app / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Host": {"LocalHttpPort": port}}))
    with funnx_start(app) as (url, _):
        assert url == f"http://127.0.0.1:{port}"
        taken = run_cli("start", "--app", app)  # the same port again
        assert taken.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in taken.output


@pytest.mark.parametrize(
    ("host_json", "fragment"),
    [
        ({"version": "2.0", "extensions": {"http": {"routePrefix": "api", "maxConcurentRequests": 2}}},
         "extensions.http: Additional properties are not allowed ('maxConcurentRequests' was unexpected)"),
        ({"version": "2.0", "functionTimeout": "99:00:00"}, "functionTimeout"),
        ({"version": "1.0"}, '"version" must be "2.0"'),
    ],
)  # fmt: skip
def test_host_json_is_validated_against_the_schema(tmp_path: Path, host_json: dict[str, object], fragment: str) -> None:
    app = fidelity(tmp_path)
    (app / "host.json").write_text(json.dumps(host_json))
    result = run_cli("start", "--app", app, "--port", "0")
    assert result.exit_code == 1 and result.output.startswith("error: ") and fragment in result.output


def test_import_errors_stop_the_start_with_file_and_line(app_dir: Path) -> None:
    assert run_cli("new", "m", "--model", "az://models/m.onnx", "--app", app_dir).exit_code == 0
    module = app_dir / "functions_app" / "m.py"
    source = module.read_text()
    assert "\nbp = " in source
    module.write_text(source.replace("\nbp = ", "\nundefined_name\nbp = "))
    result = run_cli("start", "--app", app_dir, "--port", "0")
    assert result.exit_code == 1
    assert "NameError: name 'undefined_name' is not defined" in result.output
    assert f"{module}:" in result.output


def test_keys_command_shows_and_creates_keys(app_dir: Path) -> None:
    assert run_cli("new", "m", "--model", "az://models/m.onnx", "--app", app_dir).exit_code == 0
    shown = run_cli("keys", "--app", app_dir)
    assert shown.exit_code == 0 and "master key (admin level)" in shown.output
    stored = json.loads(run_cli("keys", "--app", app_dir, "--json").output)
    assert stored == json.loads((app_dir / ".funnx" / "keys.json").read_text())
    assert set(stored["functionKeys"]) == {"m", "m_metadata", "m_v2", "funnx_v2", "funnx_openapi", "funnx_docs"}
    assert stored["functionKeys"]["m"]["default"] in shown.output
    assert ".funnx/" in (app_dir / ".gitignore").read_text().splitlines()
    assert ".funnx" in (app_dir / ".funcignore").read_text().splitlines()


@pytest.mark.storage
def test_azurite_flag_seeds_and_serves_blob_models(app_dir: Path, azurite: AzuriteService) -> None:
    """--azurite runs Azurite with data in .azurite/, --seed-models uploads models/iris.onnx."""
    assert run_cli("new", "iris", "--model", "az://models/iris.onnx", "--app", app_dir).exit_code == 0
    (app_dir / "models").mkdir()
    (app_dir / "models" / "iris.onnx").write_bytes(iris_path().read_bytes())
    with funnx_start(app_dir, "--azurite", "--seed-models", "--port", "0") as (url, banner):
        assert any("az://models/iris.onnx: seeded from models/iris.onnx" in line for line in banner)
        azurite_port = int(re.search(r"Azurite blob service at http://127\.0\.0\.1:(\d+)", "\n".join(banner)).group(1))  # type: ignore[union-attr]
        reply = httpx.post(f"{url}/api/iris", json={"data": [[1, 2], [3, 4], [5, 6]]}, timeout=60)
        assert reply.status_code == 200, reply.text
    assert (app_dir / ".azurite").is_dir()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", azurite_port), timeout=1):
        pass  # Azurite stopped with the emulator


def test_reload_restarts_on_code_changes(app_dir: Path) -> None:
    add_one(app_dir / "models" / "add.onnx")
    assert run_cli("new", "add", "--model", app_dir / "models" / "add.onnx", "--app", app_dir).exit_code == 0
    module = app_dir / "functions_app" / "add.py"
    with funnx_start(app_dir, "--reload", "--port", "0") as (url, _), httpx.Client(base_url=url) as http:
        assert http.post("/api/add", json={"data": [1]}).json()["result"] == [[2.0]]
        module.write_text(module.read_text().replace("    return outputs", '    return {"changed": True}'))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if http.post("/api/add", json={"data": [1]}).json()["result"] == [True]:
                    break
            except (httpx.HTTPError, ValueError):
                pass  # restarting
            time.sleep(0.3)
        else:
            pytest.fail("the edited function was not served after the change")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_reload_stops_on_ctrl_c_or_sigterm_even_started_with_sigint_ignored(
    app_dir: Path, stop: signal.Signals
) -> None:
    """A non-interactive shell starts background jobs with SIGINT ignored (CI does): the watching
    parent must still stop on Ctrl+C, and on SIGTERM, taking its serving child with it."""
    add_one(app_dir / "models" / "add.onnx")
    assert run_cli("new", "add", "--model", app_dir / "models" / "add.onnx", "--app", app_dir).exit_code == 0
    port = free_port()
    # started the way a background job of a non-interactive shell is: SIGINT ignored, inherited through exec
    ignoring = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); os.execv(sys.executable, sys.argv[1:])"
    )
    command = [sys.executable, "-m", "framework.cli.main", "start", "--app", str(app_dir), "--reload",
               "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-c", ignoring, *command],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "Listening on" in line:
                break
        assert httpx.post(f"http://127.0.0.1:{port}/api/add", json={"data": [1]}).json()["result"] == [[2.0]]
        process.send_signal(stop)
        output, _ = process.communicate(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the parent and a child it left behind
    assert process.returncode == 0, output
    with pytest.raises(httpx.ConnectError):  # the child is gone too
        httpx.post(f"http://127.0.0.1:{port}/api/add", json={"data": [1]}, timeout=2)


@pytest.mark.storage
def test_sigterm_stops_the_emulator_and_its_azurite(app_dir: Path, azurite: AzuriteService) -> None:
    assert run_cli("new", "m", "--model", "az://models/m.onnx", "--app", app_dir).exit_code == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "framework.cli.main", "start", "--app", str(app_dir), "--azurite", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "Listening on" in line:
            break
    found = re.search(r"Azurite blob service at http://127\.0\.0\.1:(\d+)", "".join(lines))
    assert found, "".join(lines)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert "Stopped." in process.stdout.read()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=1):
        pass


def test_invoke_calls_the_function_once(tmp_path: Path) -> None:
    app = tmp_path / "count"
    app.mkdir()
    (app / "host.json").write_text('{"version": "2.0"}')
    (app / "function_app.py").write_text(
        "import azure.functions as func\napp = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)\n"
        "calls = []\n@app.route(route='count')\ndef count(req: func.HttpRequest) -> func.HttpResponse:\n"
        "    calls.append(req.method)\n"
        "    return func.HttpResponse('{\"result\": %d}' % len(calls), mimetype='application/json')\n"
    )
    (tmp_path / "req.json").write_text("{}")
    result = run_cli("invoke", "count", "--data", tmp_path / "req.json", "--app", app)
    assert result.exit_code == 0 and json.loads(result.output) == {"result": 1}
