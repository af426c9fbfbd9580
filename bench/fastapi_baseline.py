"""The server a user would write by hand: FastAPI + uvicorn + onnxruntime, one model.

Run: ``python -m bench.fastapi_baseline MODEL.onnx PORT [INTRA_OP_THREADS]`` (0 or none: onnxruntime's
default). POST /predict takes {"data": [...]} and answers {"result": [...]}; POST /predict-binary takes
the input's raw float32 bytes and answers the first output's raw bytes. The bench starts it beside
``funnx start`` and loads both alike.

POST /predict-inline is /predict as an ``async def`` endpoint: FastAPI then runs it on the event
loop, so ``session.run`` blocks the loop instead of hopping to a thread (no thread-pool hop, no
concurrency while the model runs): the fastest FastAPI server for a small model.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import onnxruntime as ort
import uvicorn
from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

app = FastAPI()
state: dict[str, Any] = {}  # the session and its input, set in main()


@app.post("/predict")
def predict(payload: dict[str, Any]) -> dict[str, Any]:
    data = np.asarray(payload["data"], dtype=np.float32)
    outputs = state["session"].run(None, {state["input"]: data})
    return {"result": [output.tolist() for output in outputs]}


@app.post("/predict-inline")
async def predict_inline(payload: dict[str, Any]) -> dict[str, Any]:
    return predict(payload)


@app.post("/predict-binary")
async def predict_binary(request: Request) -> Response:
    body = await request.body()
    return await run_in_threadpool(_binary, body)


def _binary(body: bytes) -> Response:
    data = np.frombuffer(body, dtype=np.float32).reshape([-1, *state["shape"][1:]])
    outputs = state["session"].run(None, {state["input"]: data})
    return Response(outputs[0].tobytes(), media_type="application/octet-stream")


def main() -> None:
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
    first = session.get_inputs()[0]
    state.update(session=session, input=first.name, shape=[d if isinstance(d, int) else 1 for d in first.shape])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
