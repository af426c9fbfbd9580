"""The README's main job (`bash scripts/demo.sh`): from "I have model.onnx" to a prediction over HTTP.

It walks the README's quickstart with the model in blob storage. Steps, each printed as the command
a user would type: scaffold an app (``funnx init``), start Azurite and upload the sample model
(scikit-learn's iris classifier as shipped inside onnxruntime) to a container, add a function for it
(``funnx new``), serve the app (``funnx start``), then POST the quickstart's prediction request and
GET the model's metadata. Without Node.js the model is a local file in the app, as in the quickstart.
Everything lives in ``.funnx-demo/`` (git-ignored; ``FUNNX_DEMO_DIR`` moves it) and is recreated
on each run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import onnxruntime

from framework.emulator.azurite import Azurite, find_azurite

REPO = Path(__file__).resolve().parents[1]
DEMO = Path(os.environ.get("FUNNX_DEMO_DIR", REPO / ".funnx-demo")).resolve()
APP = DEMO / "app"
FUNNX = Path(sys.executable).with_name("funnx")
SAMPLE = Path(onnxruntime.__file__).parent / "datasets" / "logreg_iris.onnx"
ROWS = [[5.1, 3.5], [6.2, 2.9], [7.7, 3.0]]


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def funnx(*args: str, env: dict[str, str] | None = None) -> None:
    shown_args = " ".join(shown(Path(a)) if a.startswith("/") else a for a in args)
    print(f"$ funnx {shown_args}", flush=True)
    subprocess.run([str(FUNNX), *args], check=True, env=env)


def blob_source(azurite: Azurite) -> str:
    from azure.storage.blob import BlobServiceClient

    step(f"Azurite (the Azure Storage emulator) is up at {azurite.blob_endpoint}; uploading the model")
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    service.create_container("models")
    service.get_blob_client("models", "iris.onnx").upload_blob(SAMPLE.read_bytes())
    print(f"uploaded {SAMPLE.name} ({SAMPLE.stat().st_size} bytes) to az://models/iris.onnx")
    settings_path = APP / "local.settings.json"
    settings = json.loads(settings_path.read_text())
    settings["Values"]["AzureWebJobsStorage"] = azurite.connection_string
    settings_path.write_text(json.dumps(settings, indent=2) + "\n")
    print("local.settings.json: AzureWebJobsStorage now points at this Azurite")
    return "az://models/iris.onnx"


def local_source() -> str:
    step("Node.js/Azurite not found: using a local model file instead of blob storage")
    (APP / "models").mkdir()
    shutil.copy(SAMPLE, APP / "models" / "iris.onnx")
    return str(APP / "models" / "iris.onnx")


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    print(f"$ funnx start --app {shown(APP)} --port 0", flush=True)
    server = subprocess.Popen(
        [str(FUNNX), "start", "--app", str(APP), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert server.stdout is not None
    for line in server.stdout:
        print(f"   | {line}", end="", flush=True)
        found = re.search(r"Listening on (http://\S+)", line)
        if found:
            return server, found.group(1)
    raise SystemExit(f"funnx start exited with code {server.wait()}")


def call(url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.loads(reply.read())


def relay_logs(server: subprocess.Popen[str], seconds: float) -> None:
    """Show the server's log lines about model loading (the cold-start timeline)."""
    assert server.stdout is not None
    os.set_blocking(server.stdout.fileno(), False)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if line:
            print(f"   | {line}", end="", flush=True)
        else:
            time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="keep serving after the demo (Ctrl+C to stop)")
    args = parser.parse_args()

    if DEMO.exists():
        shutil.rmtree(DEMO)
    DEMO.mkdir()
    step("Scaffold a Functions app")
    funnx("init", str(APP))

    azurite = None
    binary = find_azurite() if shutil.which("node") else None
    if binary is not None:
        azurite = Azurite(binary=binary).start()
    env = {**os.environ, "FUNNX_MODEL_CACHE_DIR": str(DEMO / "model-cache")}
    try:
        source = blob_source(azurite) if azurite else local_source()
        if azurite:
            env["AzureWebJobsStorage"] = azurite.connection_string  # wins over an unrelated shell value
        step("Add an HTTP function for the model")
        funnx("new", "iris", "--model", source, "--app", str(APP))
        step("Serve the app like `func start`")
        server, base = start_server(env)
        try:
            step(f"POST {base}/api/iris")
            print(json.dumps({"data": ROWS}))
            prediction = call(f"{base}/api/iris", {"data": ROWS})
            relay_logs(server, 0.3)
            metadata = call(f"{base}/api/iris")
            print("\nprediction (one result per model output):")
            for output, value in zip(metadata["outputs"], prediction["result"], strict=True):
                print(f"  {output['name']:<14} {json.dumps(value)}")
            print(f"  {'time':<14} {prediction['time'] * 1000:.2f} ms of inference")
            step(f"GET {base}/api/iris (model metadata)")
            print(json.dumps({k: metadata[k] for k in ("name", "source", "etag", "inputs", "outputs")}))
            where = "Azurite blob storage" if azurite else "a local file"
            print(f"\nDone: the model came from {where}; labels {prediction['result'][0]} for {ROWS}.")
            if args.serve:
                print(f"Serving at {base}/api/iris; press Ctrl+C to stop.")
                relay_logs(server, float("inf"))
        except KeyboardInterrupt:
            pass
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=20)
    finally:
        if azurite is not None:
            azurite.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
