"""Indexing an app like the Python worker: failures are loud and name the file and line."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import pytest

from framework.emulator import EmulatorError, TestClient
from framework.emulator.loader import import_script
from tests.conftest import run_cli

HTTP_APP = """
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="items/{id:int}", methods=["GET"])
def item(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse(f"{req.route_params['id']} {context.function_name} {req.params.get('q')}")


@app.route(route="echo")
async def echo(req: func.HttpRequest) -> str:
    return req.get_body().decode() + " " + req.method


@app.route(route="files/{name}")
def files(req: func.HttpRequest) -> str:
    return req.route_params["name"] + " " + req.url


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("secret detail")
"""


def write_app(folder: Path, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "host.json").write_text('{"version": "2.0"}')
    (folder / "function_app.py").write_text(source)
    return folder


def test_plain_functions_app_routes_context_and_errors(tmp_path: Path) -> None:
    with TestClient(write_app(tmp_path, HTTP_APP)) as client:
        reply = client.get("/api/items/7?q=x")
        assert (reply.status_code, reply.text) == (200, "7 item x")
        assert reply.headers["content-type"] == "text/plain; charset=utf-8"
        assert client.post("/api/items/7").status_code == 404  # wrong method → 404, like the host
        assert client.get("/api/items/seven").status_code == 404
        not_found = client.get("/api/nothing")
        assert (not_found.status_code, not_found.body) == (404, b"")
        assert client.request("PATCH", "/API/Echo", data=b"hi").text == "hi PATCH"  # no methods = all
        failed = client.get("/api/boom")
        assert (failed.status_code, failed.body) == (500, b"")


def test_route_prefix_from_host_json_and_app_setting(tmp_path: Path) -> None:
    app = write_app(tmp_path, HTTP_APP)
    (app / "host.json").write_text('{"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}')
    with TestClient(app) as client:
        assert client.get("/items/1").status_code == 200
    with TestClient(app, settings={"AzureFunctionsJobHost__extensions__http__routePrefix": "v1"}) as client:
        assert client.get("/v1/items/1").status_code == 200
        assert client.get("/items/1").status_code == 404


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("import azure.functions as func\n", "defines no top-level FunctionApp"),
        ("import azure.functions as func\na = func.FunctionApp()\nb = func.FunctionApp()\n", "more than one"),
        ("import azure.functions as func\n\n\nx = 1 / 0\n", "ZeroDivisionError: division by zero (at "),
        ("import not_installed_package\n", "ModuleNotFoundError"),
        (
            HTTP_APP.replace("req: func.HttpRequest, context", "request: func.HttpRequest, context"),
            "function 'item' is refused by the Functions worker: the following parameters are declared in Python",
        ),
    ],
)
def test_indexing_failures_name_the_problem(tmp_path: Path, source: str, fragment: str) -> None:
    with pytest.raises(EmulatorError, match=fragment.replace("(", r"\(")):
        TestClient(write_app(tmp_path, source))


def test_import_error_points_at_file_and_line(tmp_path: Path) -> None:
    app = write_app(tmp_path, "import azure.functions as func\n\n\nx = 1 / 0\n")
    with pytest.raises(EmulatorError) as info:
        TestClient(app)
    assert f"{app / 'function_app.py'}:4" in info.value.message


def test_local_settings_values_load_but_existing_environment_wins(
    app_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (app_dir / "local.settings.json").write_text(
        '{"IsEncrypted": false, "Values": {"FUNNX_TEST_A": "from-file", "FUNNX_TEST_B": "from-file"}}'
    )
    (app_dir / "function_app.py").write_text(
        "import os\nimport azure.functions as func\napp = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)\n"
        "@app.route(route='env')\ndef env(req: func.HttpRequest) -> str:\n"
        "    return os.environ['FUNNX_TEST_A'] + ',' + os.environ['FUNNX_TEST_B']\n"
    )
    monkeypatch.setenv("FUNNX_TEST_B", "from-env")
    with caplog.at_level(logging.WARNING, logger="funnx.host"), TestClient(app_dir) as client:
        assert client.get("/api/env").text == "from-file,from-env"
    assert "Skipping 'FUNNX_TEST_B' from local.settings.json: already set in the environment" in caplog.text
    import os

    assert "FUNNX_TEST_A" not in os.environ  # restored when the client closes


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"Values": {}}', '"IsEncrypted" is true or missing'),
        ('{"IsEncrypted": true, "Values": {}}', '"IsEncrypted" is true or missing'),
        ('{"IsEncrypted": false, "Values": {"N": 1}}', "must be strings"),
        ("{oops", "not valid JSON"),
    ],
)
def test_bad_local_settings_are_clear_errors(app_dir: Path, content: str, fragment: str) -> None:
    (app_dir / "local.settings.json").write_text(content)
    assert run_cli("new", "m", "--model", "az://models/m.onnx", "--app", app_dir).exit_code == 0
    with pytest.raises(EmulatorError, match=fragment):
        TestClient(app_dir)


def test_an_app_without_functions_is_an_error(app_dir: Path) -> None:
    with pytest.raises(EmulatorError, match="has no HTTP functions of its own; add one with 'funnx new"):
        TestClient(app_dir)


def test_paths_are_decoded_like_aspnet_but_an_encoded_slash_stays_in_its_segment(tmp_path: Path) -> None:
    with TestClient(write_app(tmp_path, HTTP_APP)) as client:
        assert client.get("/api/files/a%2Fb").text == "a%2Fb http://localhost:7071/api/files/a%2Fb"
        assert client.get("/api/files/a b").text == "a b http://localhost:7071/api/files/a%20b"
        assert client.get("/api/files/a/b").status_code == 404


def test_one_app_per_process_at_a_time(tmp_path: Path) -> None:
    first, second = write_app(tmp_path / "one", HTTP_APP), write_app(tmp_path / "two", HTTP_APP)
    with (
        TestClient(first),
        TestClient(first),  # the same app twice is fine
        pytest.raises(EmulatorError, match="is still open in this process"),
    ):
        TestClient(second)
    with TestClient(second) as client:  # once closed, another app may open
        assert client.get("/api/items/1").status_code == 200


def test_app_modules_shadowing_installed_packages_get_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = write_app(tmp_path, HTTP_APP)
    (app / "numpy.py").write_text("")
    with TestClient(app):
        pass
    assert "The app's module 'numpy' has the name of an installed package" in caplog.text


@pytest.mark.parametrize(
    ("file", "content", "fragment"),
    [
        ("host.json", None, "cannot read"),
        ("local.settings.json", None, "cannot read"),
        ("local.settings.json", '{"IsEncrypted": false, "Host": {"LocalHttpPort": 70000}}', "LocalHttpPort must be"),
        (
            "host.json",
            '{"version": "2.0", "extensions": {"http": {"routePrefix": null}}}',
            "extensions.http.routePrefix: None is not of type",
        ),
    ],
)
def test_unusable_config_files_are_one_line_cli_errors(
    app_dir: Path, file: str, content: str | None, fragment: str
) -> None:
    assert run_cli("new", "m", "--model", "az://models/m.onnx", "--app", app_dir).exit_code == 0
    target = app_dir / file
    target.unlink()
    if content is None:
        target.mkdir()  # a folder where the file should be
    else:
        target.write_text(content)
    result = run_cli("list", "--app", app_dir)
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and result.output.count("\n") == 1 and fragment in result.output


def test_syntax_errors_point_at_the_broken_file(app_dir: Path) -> None:
    assert run_cli("new", "m", "--model", "az://models/m.onnx", "--app", app_dir).exit_code == 0
    module = app_dir / "functions_app" / "m.py"
    module.write_text(module.read_text() + "\ndef broken(:\n")
    with pytest.raises(EmulatorError) as info:
        TestClient(app_dir)
    assert "SyntaxError" in info.value.message and f"(at {module}:" in info.value.message


def test_routes_are_tried_in_precedence_order_whatever_the_declaration_order(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        "import azure.functions as func\napp = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)\n"
        "@app.route(route='m/{*rest}')\ndef rest(req: func.HttpRequest) -> str:\n    return 'catch-all'\n"
        "@app.route(route='m/{name}')\ndef named(req: func.HttpRequest) -> str:\n    return 'param'\n"
        "@app.route(route='m/latest')\ndef latest(req: func.HttpRequest) -> str:\n    return 'literal'\n",
    )
    with TestClient(app) as client:
        assert [client.get(f"/api/m/{p}").text for p in ("latest", "v1", "a/b")] == ["literal", "param", "catch-all"]


def test_non_ascii_query_strings_in_the_path(tmp_path: Path) -> None:
    with TestClient(write_app(tmp_path, HTTP_APP)) as client:
        assert client.get("/api/items/1?q=日本").text == "1 item 日本"


def test_python_313_runs_functions_through_azure_functions_runtime_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from framework.emulator.direct_invoker import DirectInvoker
    from framework.emulator.host import EmulatorHost

    app = write_app(tmp_path, HTTP_APP)
    host = EmulatorHost(app)
    try:
        assert host.worker == ("runtime" if sys.version_info >= (3, 13) else "direct")
    finally:
        host.close()
    monkeypatch.setenv("FUNNX_EMULATOR_WORKER", "direct")
    host = EmulatorHost(app)
    try:
        assert host.worker == "direct" and isinstance(host.dispatcher.invoker, DirectInvoker)
    finally:
        host.close()


def test_each_load_imports_the_apps_own_modules_afresh_and_keeps_installed_ones(tmp_path: Path) -> None:
    """A helper module and a package in the app root are re-imported on the next load (edits show), also
    through a symlinked app folder; installed modules stay loaded."""
    real = tmp_path / "real"
    (real / "helpers").mkdir(parents=True)
    (real / "function_app.py").write_text("import labels, helpers\nvalue = labels.NAME + helpers.NAME\n")
    linked = tmp_path / "linked"
    linked.symlink_to(real)
    for round_, folder in enumerate((real, linked, real)):
        (real / "labels.py").write_text(f"NAME = 'a{round_}'\n")
        (real / "helpers" / "__init__.py").write_text(f"NAME = 'b{round_}'\n")
        loaded = import_script(folder)
        assert loaded.value == f"a{round_}b{round_}"
    assert sys.modules["json"] is json


def test_reading_an_app_for_tooling_leaves_the_environment_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from framework.emulator.inventory import read_app
    from framework.runtime.settings import INDEX_ONLY_SETTING, SCRIPT_ROOT_SETTING

    monkeypatch.delenv(INDEX_ONLY_SETTING, raising=False)
    monkeypatch.setenv(SCRIPT_ROOT_SETTING, "/somewhere/else")
    found = read_app(write_app(tmp_path, HTTP_APP))
    assert {"item", "echo"} <= set(found.names)
    assert INDEX_ONLY_SETTING not in os.environ and os.environ[SCRIPT_ROOT_SETTING] == "/somewhere/else"
