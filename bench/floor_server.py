"""The Python floor for serving a model over HTTP: a bare ASGI callable on uvicorn, orjson and onnxruntime.

Run: ``python -m bench.floor_server MODEL.onnx PORT [INTRA_OP_THREADS]`` (0 or none: onnxruntime's
default). Any POST with ``{"data": [...]}`` answers ``{"result": [...], "time": seconds}`` like funnx's
simple contract: read the body, parse it, run the session inline, write the reply. No routing,
validation, thread hop or framework: the least work that still answers the same request, on the same
uvicorn (uvloop + httptools when installed) as funnx.

``python -m bench.floor_server --trivial PORT`` answers every request with a constant and touches no
model: what the load generator reaches when the server costs almost nothing (its ceiling).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
import onnxruntime as ort
import orjson
import uvicorn

HEADERS = [(b"content-type", b"application/json")]
TRIVIAL_REPLY = b'{"result":[[0.0]],"time":0.0}'
state: dict[str, Any] = {}  # the session and its first input's name, set in main()


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _reply(send: Any, body: bytes) -> None:
    headers = [*HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def floor(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    data = np.asarray(orjson.loads(await _body(receive))["data"], dtype=np.float32)
    started = time.perf_counter()
    outputs = state["session"].run(None, {state["input"]: data})
    reply = {"result": outputs, "time": time.perf_counter() - started}
    await _reply(send, orjson.dumps(reply, option=orjson.OPT_SERIALIZE_NUMPY))


async def trivial(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await _body(receive)
    await _reply(send, TRIVIAL_REPLY)


def main(argv: list[str]) -> None:
    if argv[0] == "--trivial":
        app, port = trivial, int(argv[1])
    else:
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(argv[2]) if len(argv) > 2 else 0
        session = ort.InferenceSession(argv[0], options, providers=["CPUExecutionProvider"])
        state.update(session=session, input=session.get_inputs()[0].name)
        app, port = floor, int(argv[1])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


if __name__ == "__main__":
    main(sys.argv[1:])
