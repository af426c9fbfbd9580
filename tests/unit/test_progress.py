"""Progress on long CLI work shows on a terminal (a pseudo-terminal here) and nowhere else.

A pipe or CliRunner's captured output must stay exactly what it was without progress: scripts and CI
logs read it.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.conftest import run_cli
from tests.models import identity

LARGE_ROWS = 1_200_000  # float32: 4.8 MB of .npy, over the 4 MiB progress threshold


def in_terminal(args: list[str], cwd: Path | None = None) -> tuple[int, str]:
    """Run ``args`` with stdin, stdout and stderr on a pseudo-terminal; (exit code, what it showed)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(args, stdin=terminal, stdout=terminal, stderr=terminal, cwd=cwd)
    os.close(terminal)
    shown = []
    while True:
        try:
            chunk = os.read(controller, 1 << 16)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        shown.append(chunk)
    os.close(controller)
    return process.wait(timeout=120), b"".join(shown).decode(errors="replace")


def large_input_app(tmp_path: Path) -> tuple[Path, Path]:
    app = tmp_path / "app"
    assert run_cli("init", app).exit_code == 0
    assert run_cli("new", "echo", "--model", identity(tmp_path / "echo.onnx"), "--app", app).exit_code == 0
    data = tmp_path / "x.npy"
    np.save(data, np.arange(LARGE_ROWS, dtype=np.float32))
    return app, data


def test_invoke_on_a_large_input_shows_its_steps_on_a_terminal_only(tmp_path: Path) -> None:
    app, data = large_input_app(tmp_path)
    out = tmp_path / "y.npy"
    args = ["invoke", "echo", "--data", str(data), "--output-format", "npy", "-o", str(out), "--app", str(app)]
    code, shown = in_terminal([sys.executable, "-m", "framework.cli.main", *args])
    assert code == 0, shown
    assert "invoke echo: reading x.npy" in shown and "invoke echo: calling 'echo' with" in shown, shown
    assert "invoke echo: writing the result" in shown and f"wrote {out}" in shown
    assert np.load(out).shape == (LARGE_ROWS,)

    piped = run_cli(*args)  # CliRunner: not a terminal
    assert piped.exit_code == 0
    assert piped.output == f"wrote {out}\n"


def test_invoke_on_a_small_input_shows_no_progress_even_on_a_terminal(tmp_path: Path) -> None:
    app, _ = large_input_app(tmp_path)
    (tmp_path / "req.json").write_text(json.dumps({"data": [1.0, 2.0]}))
    args = ["invoke", "echo", "--data", str(tmp_path / "req.json"), "--app", str(app)]
    code, shown = in_terminal([sys.executable, "-m", "framework.cli.main", *args])
    assert code == 0 and "invoke echo:" not in shown
    assert json.loads(shown)["result"] == [[1.0, 2.0]]


BAR = """
from framework.cli import progress
with progress.bar("uploading model.onnx") as shown:
    print("callback", shown is not None, flush=True)
    if shown:
        for done in range(0, 9 << 20, 1 << 20):
            shown(done, 8 << 20)
print("done", flush=True)
"""


def test_the_shared_bar_draws_on_a_terminal_and_stays_silent_on_a_pipe() -> None:
    """The bar `funnx model upload` and `funnx package`'s zipping use: (current, total) positions."""
    code, shown = in_terminal([sys.executable, "-c", BAR])
    assert code == 0 and "callback True" in shown
    assert "uploading model.onnx" in shown and "100%" in shown, shown
    piped = subprocess.run([sys.executable, "-c", BAR], capture_output=True, text=True, check=True)
    assert (piped.stdout, piped.stderr) == ("callback False\ndone\n", "")
