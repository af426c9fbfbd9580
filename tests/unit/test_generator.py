"""`funnx init` / `funnx new`: validate everything first, then write all files or none."""

from __future__ import annotations

import json
import py_compile
import re
import zipfile
from pathlib import Path

import pytest

from framework.emulator import TestClient
from framework.generator import GeneratorError, PlannedFile, write_files
from tests.conftest import run_cli
from tests.models import identity, iris_path, mixed_inputs


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_init_writes_a_functions_app(tmp_path: Path) -> None:
    result = run_cli("init", tmp_path / "app")
    assert result.exit_code == 0
    files = set(tree(tmp_path / "app"))
    assert files == {
        "host.json",
        "function_app.py",
        "requirements.txt",
        "local.settings.json",
        ".funcignore",
        ".gitignore",
        "functions_app/__init__.py",
        "wheels/funnx_runtime-0.1.0-py3-none-any.whl",
    }
    settings = json.loads((tmp_path / "app/local.settings.json").read_text())
    assert settings["IsEncrypted"] is False
    assert settings["Values"]["FUNCTIONS_WORKER_RUNTIME"] == "python"
    requirements = (tmp_path / "app/requirements.txt").read_text()
    assert "./wheels/funnx_runtime-0.1.0-py3-none-any.whl" in requirements.splitlines()
    assert "click" not in requirements and "jinja2" not in requirements
    assert 'azure-functions-runtime==1.3.0; python_version >= "3.13"' in requirements.splitlines()
    with zipfile.ZipFile(tmp_path / "app/wheels/funnx_runtime-0.1.0-py3-none-any.whl") as wheel:
        names = wheel.namelist()
        metadata = wheel.read("funnx_runtime-0.1.0.dist-info/METADATA").decode()
    assert "framework/runtime/model.py" in names and "framework/errors.py" in names
    assert not [n for n in names if n.startswith(("framework/cli", "framework/emulator", "framework/generator"))]
    assert "Requires-Dist: onnxruntime>=1.18" in metadata and "Requires-Python: >=3.11" in metadata
    assert "local.settings.json" in (tmp_path / "app/.gitignore").read_text().splitlines()
    assert "local.settings.json" in (tmp_path / "app/.funcignore").read_text().splitlines()


def test_init_refuses_an_existing_app_and_force_keeps_local_settings(app_dir: Path) -> None:
    (app_dir / "local.settings.json").write_text('{"IsEncrypted": false, "Values": {"MY_SECRET": "x"}}')
    (app_dir / "host.json").write_text('{"version": "2.0"}')
    before = tree(app_dir)
    refused = run_cli("init", app_dir)
    assert refused.exit_code == 1
    assert refused.output.count("\n") == 1 and "pass --force" in refused.output
    assert tree(app_dir) == before
    assert run_cli("init", app_dir, "--force").exit_code == 0
    assert "MY_SECRET" in (app_dir / "local.settings.json").read_text()
    assert "extensionBundle" in (app_dir / "host.json").read_text()


def test_new_renders_a_module_with_literals_hooks_and_an_example(app_dir: Path) -> None:
    result = run_cli("new", "iris", "--model", iris_path(), "--app", app_dir)
    assert result.exit_code == 0, result.output
    module = app_dir / "functions_app" / "iris.py"
    py_compile.compile(str(module), doraise=True)
    text = module.read_text()
    assert f"source={json.dumps(str(iris_path()))}" in text
    assert "def preprocess(" in text and "def postprocess(" in text
    assert "# Inputs:  float_input (tensor(float) [3, 2])" in text
    assert "#   curl -X POST http://localhost:7071/api/iris" in text
    assert "outside the app folder" in result.output  # the packaged model lives in site-packages


def test_generated_example_request_is_accepted_by_the_model(app_dir: Path) -> None:
    """The commented example in each generated module is a request its model answers with 200."""
    mixed_inputs(app_dir / "models" / "mixed.onnx")
    for name, model in (("iris", iris_path()), ("mixed", app_dir / "models" / "mixed.onnx")):
        assert run_cli("new", name, "--model", model, "--app", app_dir).exit_code == 0
    with TestClient(app_dir) as client:
        for name in ("iris", "mixed"):
            text = (app_dir / "functions_app" / f"{name}.py").read_text()
            body = re.search(r"^#     -d '(.*)'$", text, re.MULTILINE)
            assert body is not None, text
            reply = client.post(f"/api/{name}", data=body.group(1))
            assert reply.status_code == 200, reply.json()


def test_model_inside_the_app_is_declared_relative_to_the_app_root(
    app_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mixed_inputs(app_dir / "models" / "mixed.onnx")
    monkeypatch.chdir(app_dir)
    result = run_cli("new", "mixed", "--model", "models/mixed.onnx")
    assert result.exit_code == 0, result.output
    assert 'source="models/mixed.onnx"' in (app_dir / "functions_app" / "mixed.py").read_text()
    assert "warning" not in result.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["new", "9lives", "--model", "az://models/m.onnx"], "invalid name '9lives'"),
        (["new", "bad name", "--model", "az://models/m.onnx"], "invalid name"),
        (["new", 'x"); import os; ("', "--model", "az://models/m.onnx"], "invalid name"),
        (["new", "m", "--model", "az://models/m.onnx", "--route", "a b"], "invalid route"),
        (["new", "m", "--model", "az://models/m.onnx", "--route", "admin/m"], "reserved segment"),
        (["new", "m", "--model", "az://models/m.onnx", "--route", "../etc"], "invalid route"),
        (["new", "m", "--model", "az://models/m.onnx", "--route", "m/.."], "invalid route"),
        (
            [
                "new",
                "m",
                "--model",
                "https://a.blob.core.windows.net/c/m.onnx?sig=x",
                "--connection",
                "AzureWebJobsStorage",
            ],
            "cannot go into AzureWebJobsStorage",
        ),
        (["new", "m", "--model", "az://M/m.onnx"], "invalid container name"),
        (["new", "m", "--model", "gs://bucket/m.onnx"], "unsupported model source scheme"),
        (["new", "m", "--model", "missing.onnx"], "does not exist"),
        (
            ["new", "m", "--model", "az://models/m.onnx", "--connection", "not-a-setting"],
            "invalid connection setting name",
        ),
    ],
)
def test_invalid_input_gets_one_line_and_writes_nothing(app_dir: Path, args: list[str], fragment: str) -> None:
    before = tree(app_dir)
    result = run_cli(*args, "--app", app_dir)
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert fragment in result.output
    assert "Traceback" not in result.output
    assert tree(app_dir) == before


def test_every_problem_is_reported_at_once(app_dir: Path) -> None:
    result = run_cli("new", "9x", "--model", "s3://b/m", "--route", "a b", "--app", app_dir)
    assert result.exit_code == 1
    for fragment in ("invalid name", "invalid route", "unsupported model source scheme"):
        assert fragment in result.output


def test_a_file_onnxruntime_rejects_is_refused(app_dir: Path) -> None:
    (app_dir / "broken.onnx").write_bytes(b"this is not a model")
    result = run_cli("new", "broken", "--model", app_dir / "broken.onnx", "--app", app_dir)
    assert result.exit_code == 1 and "onnxruntime cannot load" in result.output
    assert not (app_dir / "functions_app" / "broken.py").exists()


def test_new_outside_an_app_says_to_run_init(tmp_path: Path) -> None:
    result = run_cli("new", "m", "--model", "az://models/m.onnx", "--app", tmp_path)
    assert result.exit_code == 1 and "funnx init" in result.output


def test_existing_module_needs_force_and_dry_run_writes_nothing(app_dir: Path) -> None:
    assert run_cli("new", "m", "--model", "az://models/m.onnx", "--app", app_dir).exit_code == 0
    before = tree(app_dir)
    again = run_cli("new", "m", "--model", "az://models/other.onnx", "--app", app_dir)
    assert again.exit_code == 1 and "--force" in again.output
    dry = run_cli("new", "m", "--model", "az://models/other.onnx", "--app", app_dir, "--force", "--dry-run")
    assert dry.exit_code == 0 and 'source="az://models/other.onnx"' in dry.output
    assert tree(app_dir) == before
    assert run_cli("new", "m", "--model", "az://models/other.onnx", "--app", app_dir, "--force").exit_code == 0
    assert 'source="az://models/other.onnx"' in (app_dir / "functions_app" / "m.py").read_text()


def test_sas_token_goes_to_local_settings_never_into_code(app_dir: Path) -> None:
    url = "https://acct.blob.core.windows.net/models/m.onnx?sv=2024-01-01&sig=T0PS3CRET%3D"
    result = run_cli("new", "m-1", "--model", url, "--app", app_dir)
    assert result.exit_code == 0, result.output
    module = (app_dir / "functions_app" / "m_1.py").read_text()
    assert "T0PS3CRET" not in module and "T0PS3CRET" not in result.output
    assert 'source="https://acct.blob.core.windows.net/models/m.onnx"' in module
    assert 'connection="M_1_SAS"' in module
    values = json.loads((app_dir / "local.settings.json").read_text())["Values"]
    assert values["M_1_SAS"] == "sv=2024-01-01&sig=T0PS3CRET%3D"
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"  # merged, not replaced


def test_odd_characters_in_sources_are_rendered_as_literals(app_dir: Path) -> None:
    """Quotes, triple quotes and unicode line separators in a blob name cannot inject code."""
    blob = 'az://models/it\'s "quoted" \u2028 ünï""".onnx'
    result = run_cli("new", "odd", "--model", blob, "--app", app_dir)
    assert result.exit_code == 0, result.output
    namespace: dict[str, object] = {}
    code = (app_dir / "functions_app" / "odd.py").read_text()
    exec(compile(code, "odd.py", "exec"), namespace)
    model = namespace["MODEL"]
    assert model.source.describe() == blob  # type: ignore[attr-defined]
    assert set(namespace) >= {"bp", "predict", "metadata", "preprocess", "postprocess"}


def test_write_failure_rolls_everything_back(app_dir: Path) -> None:
    """If one file cannot be written, the others are not left behind."""
    (app_dir / "functions_app" / "m.py").mkdir()  # a folder where the module should go
    url = "https://acct.blob.core.windows.net/models/m.onnx?sig=abc"
    before = tree(app_dir)
    result = run_cli("new", "m", "--model", url, "--app", app_dir, "--force")
    assert result.exit_code == 1 and "nothing was changed" in result.output
    assert tree(app_dir) == before
    assert not list(app_dir.rglob("*.tmp")) and not list(app_dir.rglob("*.bak"))


def test_staging_failure_leaves_no_files_or_folders(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder is needed")
    files = [
        PlannedFile(tmp_path / "new" / "deep" / "a.txt", "a"),
        PlannedFile(tmp_path / "blocker" / "b.txt", "b"),
    ]
    with pytest.raises(GeneratorError, match="nothing was changed"):
        write_files(files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_generated_modules_are_lint_and_format_clean_in_a_users_app(app_dir: Path) -> None:
    """What `funnx new` writes passes ruff's checks and formatter untouched (no config: a user's view)."""
    import subprocess
    import sys

    mixed_inputs(app_dir / "models" / "mixed.onnx")
    assert run_cli("new", "local", "--model", app_dir / "models" / "mixed.onnx", "--app", app_dir).exit_code == 0
    assert run_cli("new", "blob", "--model", "az://models/m.onnx", "--app", app_dir).exit_code == 0
    ruff = [sys.executable, "-m", "ruff"]
    checks = [
        ["check", "--isolated", "--select", "E4,E7,E9,F,W,I,UP,B", "functions_app", "function_app.py", "tests"],
        ["format", "--isolated", "--check", "functions_app", "function_app.py"],  # tests may hold long literals
    ]
    for command in checks:
        done = subprocess.run(
            [*ruff, *command],
            cwd=app_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_names_from_the_model_cannot_break_the_module(app_dir: Path) -> None:
    """Input names with newlines, NUL and quotes end up escaped in comments, never as code."""
    weird = 'x"\nimport os; os.system("boom")  #\x00\u2028'
    identity(app_dir / "weird.onnx", name=weird)
    result = run_cli("new", "weird", "--model", app_dir / "weird.onnx", "--app", app_dir)
    assert result.exit_code == 0, result.output
    code = (app_dir / "functions_app" / "weird.py").read_text()
    assert "\x00" not in code and "\nimport os" not in code
    namespace: dict[str, object] = {}
    exec(compile(code, "weird.py", "exec"), namespace)
    with TestClient(app_dir) as client:
        body = re.search(r"^#     -d '(.*)'$", code, re.MULTILINE)
        assert body is not None
        assert client.post("/api/weird", data=body.group(1)).status_code == 200


def test_route_prefix_is_validated_before_it_reaches_the_module(app_dir: Path) -> None:
    (app_dir / "host.json").write_text(
        json.dumps({"version": "2.0", "extensions": {"http": {"routePrefix": 'x"""\nprint("INJECTED")\n"""'}}})
    )
    result = run_cli("new", "m", "--model", "az://models/m.onnx", "--app", app_dir)
    assert result.exit_code == 1 and "route prefix" in result.output
    assert not (app_dir / "functions_app" / "m.py").exists()


def test_taken_function_names_and_routes_are_refused(app_dir: Path) -> None:
    assert run_cli("new", "iris", "--model", "az://models/iris.onnx", "--app", app_dir).exit_code == 0
    name_clash = run_cli("new", "iris_metadata", "--model", "az://models/x.onnx", "--app", app_dir)
    assert name_clash.exit_code == 1 and "function name 'iris_metadata' is already used in iris.py" in name_clash.output
    route_clash = run_cli("new", "other", "--route", "IRIS", "--model", "az://models/x.onnx", "--app", app_dir)
    assert route_clash.exit_code == 1 and "POST /IRIS is already served by 'iris'" in route_clash.output
    # Regenerating the same function is not a clash with itself.
    assert run_cli("new", "iris", "--model", "az://models/v2.onnx", "--app", app_dir, "--force").exit_code == 0


def test_large_inputs_get_a_numpy_example_that_the_model_accepts(app_dir: Path) -> None:
    from onnx import TensorProto

    identity(app_dir / "texts.onnx", name="texts", elem_type=TensorProto.STRING, shape=[60])
    assert run_cli("new", "texts", "--model", app_dir / "texts.onnx", "--app", app_dir).exit_code == 0
    code = (app_dir / "functions_app" / "texts.py").read_text()
    line = re.search(r"^#     (body = .*)$", code, re.MULTILINE)
    assert line is not None, code
    namespace: dict[str, object] = {}
    exec("import json, numpy as np\n" + line.group(1), namespace)
    with TestClient(app_dir) as client:
        reply = client.post("/api/texts", data=namespace["body"])
        assert reply.status_code == 200, reply.json()
        assert reply.json()["result"] == {"y": ["text"] * 60}


def test_local_models_excluded_from_deployment_get_a_warning(app_dir: Path) -> None:
    identity(app_dir / "tests" / "m.onnx")
    result = run_cli("new", "m", "--model", app_dir / "tests" / "m.onnx", "--app", app_dir)
    assert result.exit_code == 0
    assert "warning: tests/m.onnx is left out of the deployment package by the rule 'tests'" in result.output


def test_a_different_sas_token_for_an_existing_setting_needs_force(app_dir: Path) -> None:
    url = "https://acct.blob.core.windows.net/models/m.onnx"
    assert (
        run_cli("new", "a", "--model", f"{url}?sig=one", "--connection", "SHARED_SAS", "--app", app_dir).exit_code == 0
    )
    refused = run_cli("new", "b", "--model", f"{url}?sig=two", "--connection", "SHARED_SAS", "--app", app_dir)
    assert refused.exit_code == 1 and "already has a different SHARED_SAS" in refused.output
    assert json.loads((app_dir / "local.settings.json").read_text())["Values"]["SHARED_SAS"] == "sig=one"
    again = run_cli("new", "b", "--model", f"{url}?sig=two", "--connection", "SHARED_SAS", "--app", app_dir, "--force")
    assert again.exit_code == 0
    assert json.loads((app_dir / "local.settings.json").read_text())["Values"]["SHARED_SAS"] == "sig=two"


def test_failure_while_moving_files_restores_what_was_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second rename fails after the first file was replaced: the first file gets its old content back."""
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("old first")
    real_replace = Path.replace
    finals: list[Path] = []

    def failing_replace(self: Path, target: Path) -> Path:
        if Path(target) == second:
            raise OSError(28, "No space left on device", str(target))
        finals.append(Path(target))
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", failing_replace)
    with pytest.raises(GeneratorError, match="No space left on device"):
        write_files([PlannedFile(first, "new first"), PlannedFile(second, "new second")])
    monkeypatch.undo()
    assert first in finals  # the first file really was replaced before the failure
    assert first.read_text() == "old first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.txt"]
