"""`funnx init` / `funnx new`: validate everything first, then write all files or none."""

from __future__ import annotations

import json
import py_compile
import re
from pathlib import Path

import pytest

from framework.emulator import TestClient
from framework.generator import GeneratorError, PlannedFile, write_files
from tests.conftest import run_cli
from tests.models import iris_path, mixed_inputs


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
    }
    settings = json.loads((tmp_path / "app/local.settings.json").read_text())
    assert settings["IsEncrypted"] is False
    assert settings["Values"]["FUNCTIONS_WORKER_RUNTIME"] == "python"
    requirements = (tmp_path / "app/requirements.txt").read_text()
    assert "onnxruntime" in requirements and "click" not in requirements and "jinja2" not in requirements
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
    for command in (["check", "--isolated", "--select", "E4,E7,E9,F,W,I,UP,B"], ["format", "--isolated", "--check"]):
        done = subprocess.run(
            [*ruff, *command, "functions_app", "function_app.py"],
            cwd=app_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
