"""Installing funnx never makes its own sample app importable from another app.

The Functions worker appends the app folder to the end of sys.path, after site-packages. Anything
named ``function_app`` or ``functions_app`` that an installed package exposes would be imported
instead of the user's app: every call would then reach funnx's sample function.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[2]

WORKER_ORDER = """
import json, sys
sys.path.append(sys.argv[1])  # the worker puts the app folder last
import function_app, functions_app, framework
print(json.dumps([function_app.__file__, list(functions_app.__path__), framework.__file__]))
"""


def test_a_user_app_wins_under_the_workers_path_order(tmp_path: Path) -> None:
    app = tmp_path / "app"
    assert run_cli("init", app).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(  # this interpreter has funnx installed in editable mode from this checkout
        [sys.executable, "-c", WORKER_ORDER, str(app)], cwd=elsewhere, capture_output=True, text=True, check=True
    )
    function_app, functions_app, framework = json.loads(done.stdout)
    assert Path(function_app) == app / "function_app.py"
    assert [Path(p) for p in functions_app] == [app / "functions_app"]
    assert Path(framework).is_relative_to(REPO)  # funnx itself still comes from the checkout


def test_the_funnx_wheel_holds_the_framework_package_only(tmp_path: Path) -> None:
    from hatchling.builders.wheel import WheelBuilder

    built = next(WheelBuilder(str(REPO)).build(directory=str(tmp_path), versions=["standard"]))
    tops = {name.split("/")[0] for name in zipfile.ZipFile(built).namelist()}
    assert tops == {"framework", "funnx-0.1.0.dist-info"}
    assert "framework/_templates/app/function_app.py.j2" in zipfile.ZipFile(built).namelist()
