"""Batching through the app: concurrent requests (simple JSON, OIP JSON, OIP binary) get the answers
the same app gives unbatched, and GET metadata reports the batches.

Requests come in bursts from threads, as the worker's thread pool delivers them; bursts repeat until
a batch held more than one request (the first burst almost always does: a run takes about a
millisecond, the other threads arrive meanwhile). Nothing asserts a duration.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as triton

from framework.emulator import TestClient
from framework.runtime.oip_codec import HEADER_LENGTH
from tests.conftest import run_cli
from tests.models import dynamic_cnn, mlp

THREADS, MAX_BURSTS = 12, 30
ROWS = np.random.default_rng(11).standard_normal((THREADS, 1, 256), dtype=np.float32)


def binary_request(array: np.ndarray[Any, Any]) -> tuple[bytes, dict[str, str]]:
    tensor = triton.InferInput("x", list(array.shape), "FP32")
    tensor.set_data_from_numpy(array, binary_data=True)
    body, length = triton.InferenceServerClient.generate_request_body(
        [tensor], outputs=[triton.InferRequestedOutput("y", binary_data=True)]
    )
    return bytes(body), {"content-type": "application/octet-stream", HEADER_LENGTH: str(length)}


def requests() -> list[tuple[str, bytes, dict[str, str]]]:
    """One request per thread: (path, body, headers), the three wire formats and two models mixed."""
    made: list[tuple[str, bytes, dict[str, str]]] = []
    for index in range(THREADS):
        row = ROWS[index]
        kind = index % 4
        if kind == 0:
            made.append(("/api/mlp", json.dumps({"data": row.tolist()}).encode(), {}))
        elif kind == 1:
            tensor = {"name": "x", "shape": [1, 256], "datatype": "FP32", "data": row.ravel().tolist()}
            made.append(("/api/v2/models/mlp/infer", json.dumps({"inputs": [tensor]}).encode(), {}))
        elif kind == 2:
            made.append(("/api/v2/models/mlp/infer", *binary_request(row)))
        else:  # two image sizes: they never share a batch, each size batches with its own
            size = 8 if index % 8 == 3 else 10
            image = np.random.default_rng(index).standard_normal((1, 3, size, size), dtype=np.float32)
            made.append(("/api/cnn", json.dumps({"data": image.tolist()}).encode(), {}))
    return made


def rows_are_batch_invariant(app: Path) -> bool:
    """Whether onnxruntime computes each row the same alone and in a batch of 8 for these models (it does
    with MLAS on x86-64; another CPU or execution provider may round differently)."""
    for model, sample in (("mlp", ROWS[:8, 0]), ("cnn", np.random.default_rng(3).standard_normal((8, 3, 10, 10)))):
        session = ort.InferenceSession(str(app / "models" / f"{model}.onnx"), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        batch = sample.astype(np.float32)
        alone = np.concatenate([session.run(None, {name: batch[i : i + 1]})[0] for i in range(8)])
        if not np.array_equal(session.run(None, {name: batch})[0], alone):
            return False
    return True


def numbers(body: bytes) -> np.ndarray[Any, Any]:
    """The output values of an answer (JSON or binary OIP: the 10 float32 values end the body)."""
    if body.startswith(b"{") and b"binary_data_size" not in body:
        payload = json.loads(body)
        values = payload["result"] if "result" in payload else [out["data"] for out in payload["outputs"]]
        return np.asarray(values, dtype=np.float64).ravel()
    return np.frombuffer(body[-40:], dtype=np.float32).astype(np.float64)


def answer(reply: Any) -> bytes:
    """The reply without what may differ between two runs of the same request (the simple contract's time)."""
    assert reply.status_code == 200, reply.body[:300]
    if reply.headers["content-type"].startswith("application/json"):
        payload = reply.json()
        payload.pop("time", None)
        return json.dumps(payload, sort_keys=True).encode()
    return bytes(reply.body)


def burst(client: TestClient, made: list[tuple[str, bytes, dict[str, str]]]) -> list[bytes]:
    replies: list[Any] = [None] * len(made)
    start = threading.Barrier(len(made))

    def send(index: int) -> None:
        path, body, headers = made[index]
        start.wait()
        replies[index] = client.post(path, data=body, headers=headers)

    threads = [threading.Thread(target=send, args=(index,)) for index in range(len(made))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [answer(reply) for reply in replies]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    app = tmp_path_factory.mktemp("batching") / "app"
    assert run_cli("init", app).exit_code == 0
    for name, model in (("mlp", mlp(app / "models" / "mlp.onnx")), ("cnn", dynamic_cnn(app / "models" / "cnn.onnx"))):
        batching = ["--max-batch-size", "8", "--max-batch-delay-ms", "1"]
        result = run_cli("new", name, "--model", model, *batching, "--app", app)
        assert result.exit_code == 0, result.output
    return app


def test_concurrent_requests_get_the_unbatched_answers_and_metadata_reports_batches(app: Path) -> None:
    made, exact = requests(), rows_are_batch_invariant(app)
    with TestClient(app, settings={"FUNNX_MLP_MAX_BATCH_SIZE": "1", "FUNNX_CNN_MAX_BATCH_SIZE": "1"}) as unbatched:
        expected = [answer(unbatched.post(path, data=body, headers=headers)) for path, body, headers in made]
    with TestClient(app) as client:
        bursts = 0
        while bursts < MAX_BURSTS:
            bursts += 1
            answers = burst(client, made)
            if exact:  # bit for bit where onnxruntime computes a row the same at every batch size
                assert answers == expected
            else:  # otherwise within float32 rounding
                for got, want in zip(answers, expected, strict=True):
                    np.testing.assert_allclose(numbers(got), numbers(want), rtol=1e-5, atol=1e-6)
            report = client.get("/api/mlp").json()["batching"]
            if any(int(size) > 1 for size in report["batch_sizes"]):
                break
        else:
            pytest.fail(f"no batch held two requests in {MAX_BURSTS} bursts: {report}")
        cnn = client.get("/api/cnn").json()["batching"]
    assert report["enabled"] is True and report["max_batch_size"] == 8 and report["max_batch_delay_ms"] == 1.0
    sizes = {int(size): count for size, count in report["batch_sizes"].items()}
    assert sum(sizes.values()) == report["batches"] and sum(s * c for s, c in sizes.items()) == report["requests"]
    assert report["batches"] < report["requests"] == 9 * bursts  # 9 of the 12 requests per burst go to mlp
    assert report["mean_batch_size"] == round(report["requests"] / report["batches"], 3)
    assert report["queue_wait_ms"]["max"] >= report["queue_wait_ms"]["mean"] >= 0
    assert cnn["requests"] == 3 * bursts and report["fallbacks"] == cnn["fallbacks"] == 0
