"""The message types the emulator hands azure-functions-runtime: standalone, and complete.

Standalone: the module loads by file path in a bare interpreter (no site-packages, no funnx), so it
can be checked or reused on its own. Complete (3.13+): every message type the runtime's source asks
``protos`` for exists here, so a runtime release that starts using a new one fails this test rather
than a request.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

import framework.emulator.worker_messages as messages
from framework.emulator.host import RUNTIME_PYTHON

MODULE = Path(messages.__file__)

BARE_CHECK = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("worker_messages", sys.argv[1])
module = sys.modules["worker_messages"] = importlib.util.module_from_spec(spec)  # the documented recipe
spec.loader.exec_module(module)
http = module.RpcHttp(method="GET", body=module.TypedData(bytes=b"x"))
binding = module.ParameterBinding(name="req", data=module.TypedData(http=http))
assert binding.WhichOneof("rpc_data") == "data" and binding.data.WhichOneof("data") == "http"
assert module.RpcHttp().body.WhichOneof("data") is None  # an unset message reads as an empty one
assert getattr(module.RpcHttpCookie.SameSite, "None") == 0 and module.StatusResult.Success == 1
assert not [name for name in sys.modules if name.split(".")[0] in ("framework", "azure", "google")]
print("ok")
"""


def test_loads_alone_in_a_bare_interpreter() -> None:
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", BARE_CHECK, str(MODULE)], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


@pytest.mark.skipif(sys.version_info < RUNTIME_PYTHON, reason="azure-functions-runtime is on Python 3.13+ only")
def test_has_every_message_type_the_runtime_asks_for() -> None:
    spec = importlib.util.find_spec("azure_functions_runtime")
    assert spec is not None and spec.origin is not None
    source = "\n".join(path.read_text() for path in Path(spec.origin).parent.rglob("*.py"))
    asked = set(re.findall(r"\bprotos\.([A-Za-z]\w*)", source))
    assert {"InvocationResponse", "RpcHttp", "TypedData", "WorkerInitResponse"} <= asked  # the scan finds them
    # the HTTP-streaming and environment-reload replies are for paths the emulator does not take
    missing = sorted(name for name in asked if not hasattr(messages, name))
    assert missing == ["FunctionEnvironmentReloadResponse"]
