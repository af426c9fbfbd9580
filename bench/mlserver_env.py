"""MLServer for the batching benchmark: its own virtualenv, its model repository, its command line.

MLServer pins many dependencies (pydantic, fastapi, starlette, protobuf …) that must not meet
funnx's, so it lives in ``.venv-mlserver`` (git-ignored) with exactly the versions in
bench/mlserver-requirements.txt, created on demand: ``python -m bench.mlserver_env`` does it alone.
It is a benchmark-only tool: never in funnx's dependencies, its CI or its constraints.

The served model uses bench/mlserver_runtime.py (onnxruntime behind MLServer's MLModel contract) with
adaptive batching (``max_batch_size``, ``max_batch_time``), as MLServer's docs describe; the server
runs with ``debug`` off (no access log) and its default parallel inference (one worker process).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv-mlserver"
REQUIREMENTS = Path(__file__).with_name("mlserver-requirements.txt")
STAMP = "funnx-bench-requirements.sha256"  # written last: a half-made virtualenv is never taken as ready
#: MLServer 1.7.1 supports Python 3.9 to 3.12.
PYTHONS = ("3.12", "3.11")


def _wanted() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def python() -> Path:
    return VENV / "bin" / "python"


def existing() -> Path | None:
    """The MLServer virtualenv's interpreter when it is complete and current, else None."""
    stamp = VENV / STAMP
    if python().exists() and stamp.exists() and stamp.read_text().strip() == _wanted():
        return python()
    return None


def _base_python() -> str:
    if f"{sys.version_info.major}.{sys.version_info.minor}" in PYTHONS:
        return sys.executable
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for version in PYTHONS:
        found = sorted(pyenv.glob(f"{version}.*/bin/python"), reverse=True)
        if found:
            return str(found[0])
    raise RuntimeError(f"MLServer needs Python {' or '.join(PYTHONS)}; none found (run the bench with one)")


def ensure() -> Path:
    """The MLServer virtualenv's interpreter, creating or updating the virtualenv first (a few minutes)."""
    ready = existing()
    if ready is not None:
        return ready
    print(f"bench: installing MLServer into {VENV} (once)…", file=sys.stderr, flush=True)
    if not python().exists():
        subprocess.run([_base_python(), "-m", "venv", str(VENV)], check=True)
    install = [str(python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(REQUIREMENTS)]
    subprocess.run(install, check=True)
    (VENV / STAMP).write_text(_wanted() + "\n")
    return python()


def version(interpreter: Path) -> str:
    done = subprocess.run(
        [str(interpreter), "-c", "import mlserver; print(mlserver.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def repository(
    folder: Path, model: str, model_path: Path, ports: tuple[int, int, int], max_batch_size: int, max_batch_time: float
) -> Path:
    """A model repository for ``mlserver start``: server settings plus one model folder."""
    http_port, grpc_port, metrics_port = ports
    folder.mkdir(parents=True, exist_ok=True)
    server = {
        "debug": False,
        "host": "127.0.0.1",
        "http_port": http_port,
        "grpc_port": grpc_port,
        "metrics_port": metrics_port,
        "load_models_at_startup": True,
    }
    (folder / "settings.json").write_text(json.dumps(server, indent=2))
    (folder / model).mkdir(exist_ok=True)
    settings = {
        "name": model,
        "implementation": "bench.mlserver_runtime.OnnxRuntime",
        "max_batch_size": max_batch_size,
        "max_batch_time": max_batch_time,
        "parameters": {"uri": str(model_path)},
    }
    (folder / model / "model-settings.json").write_text(json.dumps(settings, indent=2))
    return folder


def command(interpreter: Path, repository_folder: Path) -> list[str]:
    return [str(interpreter.parent / "mlserver"), "start", str(repository_folder)]


def environment() -> dict[str, str]:
    """MLServer's environment: the repository root on PYTHONPATH for bench.mlserver_runtime, nothing of funnx's venv."""
    keep = {name: value for name, value in os.environ.items() if name not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return {**keep, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


if __name__ == "__main__":
    interpreter = ensure()
    print(f"MLServer {version(interpreter)} in {VENV}")
