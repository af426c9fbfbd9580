"""The CLI starts fast: `funnx --help` imports no command module, and its summaries stay true."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from framework.cli.main import COMMANDS, cli
from tests.conftest import run_cli


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_summary_is_the_commands_own(name: str) -> None:
    where = COMMANDS[name]
    command = getattr(importlib.import_module(f"framework.cli.{where.module}"), where.attribute)
    assert command.name == name
    assert command.get_short_help_str(limit=10**6) == where.summary


def test_help_lists_every_command_without_importing_them() -> None:
    probe = (
        "import sys; from framework.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('framework.cli.', 'framework.emulator', "
        "'framework.generator', 'framework.runtime', 'numpy', 'onnxruntime', 'uvicorn', 'jinja2', 'azure')))\n"
        "print(heavy, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe, "--help"], capture_output=True, text=True, check=True)
    assert done.stderr.strip() == "['framework.cli.group', 'framework.cli.main']"
    for name in COMMANDS:
        assert f"\n  {name} " in done.stdout


def test_a_command_still_runs_and_reports_usage_errors() -> None:
    assert run_cli("init", "--help").exit_code == 0
    assert sorted(cli.list_commands(None)) == sorted(COMMANDS)  # type: ignore[arg-type]
    unknown = run_cli("nope")
    assert unknown.exit_code == 2 and "No such command 'nope'" in unknown.output


def test_function_names_follow_the_functions_option_like_func_start() -> None:
    from framework.cli.options import function_names

    assert function_names(("a",), ("b", "c,d")) == ("a", "b", "c", "d")
    assert function_names(("a,b", "c"), ()) == ("a", "b", "c")
    stray = run_cli("start", "stray", "--port", "0")
    assert stray.exit_code == 2 and "function names go after --functions" in stray.output
