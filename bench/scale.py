"""Scale: apps with 1, 10 and 100 generated model functions, each measured in a fresh process:
the time to import and index the app like the worker (EmulatorHost), the memory after indexing,
and the memory after calling one model (models load only when called)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from framework.generator import plan_init, plan_new, validate_new, write_files
from tests.models import add_one

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys, time
from pathlib import Path

def rss_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
started = time.perf_counter()
from framework.emulator import TestClient
client = TestClient(sys.argv[1])
indexed_s = time.perf_counter() - started
after_index = rss_mb()
reply = client.post("/api/m0", json={"data": [1.0]})
assert reply.status_code == 200, reply.body
print(json.dumps({"functions": len(client.host.functions), "index_s": indexed_s, "rss_index_mb": after_index,
                  "rss_after_call_mb": rss_mb()}))
client.close()
"""


def app_with(folder: Path, count: int) -> Path:
    write_files(plan_init(folder))
    model = add_one(folder / "models" / "m.onnx")
    for index in range(count):
        write_files(plan_new(validate_new(folder, f"m{index}", str(model), auth_level="anonymous")))
    return folder


def run(counts: tuple[int, ...] = (1, 10, 100)) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="funnx-bench-") as scratch:
        for count in counts:
            app = app_with(Path(scratch) / f"app{count}", count)
            env = {"FUNNX_MODEL_CACHE_DIR": str(Path(scratch) / "cache"), "PATH": "/usr/bin:/bin"}
            command = [sys.executable, "-c", PROBE, str(app)]
            done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO, env=env)
            rows.append({"models": count, **json.loads(done.stdout.strip().splitlines()[-1])})
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
