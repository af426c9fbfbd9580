"""The batching engine with real threads and real onnxruntime sessions, interleavings forced by events.

``GatedModel`` holds its first run until the test releases it, so requests that arrive meanwhile
queue for certain; what each run received is recorded, and every answer is compared with the same
request run alone. Nothing here measures time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from framework.errors import BadRequest, ModelUnavailable
from framework.runtime import model as model_module
from framework.runtime.batching import worker_threads
from framework.runtime.loading import LoadedModel
from framework.runtime.model import OnnxModel
from tests.models import OPSET, _save, embedding, mlp

WAIT = 10.0  # how long a test waits for a thread before it fails (never reached when the engine works)


def two_outputs(path: Path) -> Path:
    """x float[batch, n] → plus = x + x, minus = -x: requests may ask for one output or both."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["plus"]), helper.make_node("Neg", ["x"], ["minus"])],
        "two_outputs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "n"])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", "n"]) for name in ("plus", "minus")],
    )
    return _save(helper.make_model(graph, opset_imports=OPSET), path)


class GatedModel(OnnxModel):
    """An OnnxModel whose first session run waits for ``gate``; records the rows of every run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate, self.entered = threading.Event(), threading.Event()
        self.runs: list[int] = []

    def run_alone(
        self, loaded: LoadedModel, feeds: dict[str, Any], output_names: list[str] | None = None
    ) -> tuple[list[Any], float]:
        self.runs.append(next(iter(feeds.values())).shape[0])
        if len(self.runs) == 1:
            self.entered.set()
            assert self.gate.wait(WAIT)
        return super().run_alone(loaded, feeds, output_names)


class Calls:
    """Requests on their own threads; ``results[i]`` is the answer or the exception."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.results: dict[int, Any] = {}

    def start(self, call: Callable[[], Any]) -> None:
        index = len(self.threads)

        def target() -> None:
            try:
                self.results[index] = call()
            except Exception as err:
                self.results[index] = err

        thread = threading.Thread(target=target, daemon=True)
        self.threads.append(thread)
        thread.start()

    def join(self) -> dict[int, Any]:
        for thread in self.threads:
            thread.join(WAIT)
            assert not thread.is_alive(), "a request never got its answer"
        return self.results


def wait_queued(model: OnnxModel, count: int) -> None:
    for _ in range(int(WAIT / 0.005)):
        if model._batcher.queued == count:
            return
        threading.Event().wait(0.005)
    pytest.fail(f"{model._batcher.queued} requests queued, expected {count}")


@pytest.fixture
def rows() -> np.ndarray:
    return np.random.default_rng(7).standard_normal((8, 256), dtype=np.float32)


@pytest.fixture
def unbounded_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lets a model declare a delay beyond the 1 s cap: a wait the engine should not make then hangs
    the test (and fails it after WAIT) instead of passing one second late."""
    monkeypatch.setattr(model_module, "MAX_BATCH_DELAY_MS", float("inf"))


@pytest.fixture
def gated(tmp_path: Path, unbounded_delay: None) -> Iterator[GatedModel]:
    model = GatedModel("m", str(mlp(tmp_path / "m.onnx")), max_batch_size=4, max_batch_delay_ms=60_000)
    yield model
    model.gate.set()


def one_then_four(gated: GatedModel, rows: np.ndarray) -> tuple[LoadedModel, Calls]:
    """Row 0 runs alone (held at the gate) while rows 1-4 queue; then the gate opens."""
    loaded, calls = gated.get(), Calls()
    calls.start(lambda: gated.run(loaded, {"x": rows[:1]}))
    assert gated.entered.wait(WAIT)
    for index in range(1, 5):
        calls.start(lambda index=index: gated.run(loaded, {"x": rows[index : index + 1]}))  # type: ignore[misc]
    wait_queued(gated, 4)
    gated.gate.set()
    return loaded, calls


def test_requests_queued_during_a_run_join_the_next_run_and_get_their_own_rows(
    gated: GatedModel, rows: np.ndarray
) -> None:
    loaded, calls = one_then_four(gated, rows)
    results = calls.join()
    # the lone first request ran at once; the 4 that queued meanwhile filled one run (4 rows = the limit,
    # so the 60 s delay was never waited for)
    assert gated.runs == [1, 4]
    for index in range(5):
        outputs, _seconds = results[index]
        alone, _ = gated.run_alone(loaded, {"x": rows[index : index + 1]})
        assert outputs[0].shape == (1, 10)
        assert np.array_equal(outputs[0], alone[0])  # bit for bit: MatMul rows do not depend on the batch here
    report = gated.batching_report(loaded)
    assert report is not None
    assert report["requests"] == 5 and report["batches"] == 2 and report["batch_sizes"] == {"1": 1, "4": 1}
    assert report["mean_batch_size"] == 2.5 and report["max_batch_size"] == 4 and report["enabled"] is True


def test_a_batch_holds_at_most_max_batch_size_rows(tmp_path: Path, rows: np.ndarray) -> None:
    gated = GatedModel("m", str(mlp(tmp_path / "m.onnx")), max_batch_size=4, max_batch_delay_ms=0)
    loaded, calls = gated.get(), Calls()
    calls.start(lambda: gated.run(loaded, {"x": rows[:1]}))
    assert gated.entered.wait(WAIT)
    for start in (0, 2, 4):  # three requests of 2 rows, 4 rows per run at most
        calls.start(lambda start=start: gated.run(loaded, {"x": rows[start : start + 2]}))  # type: ignore[misc]
        wait_queued(gated, start // 2 + 1)
    gated.gate.set()
    results = calls.join()
    assert gated.runs[:3] == [1, 4, 2]
    assert all(np.array_equal(results[i + 1][0][0], gated.run_alone(loaded, {"x": rows[2 * i : 2 * i + 2]})[0][0])
               for i in range(3))  # fmt: skip


def test_requests_that_cannot_join_run_in_separate_batches(tmp_path: Path) -> None:
    model = GatedModel("two", str(two_outputs(tmp_path / "two.onnx")), max_batch_size=32, max_batch_delay_ms=0)
    loaded, calls = model.get(), Calls()
    other_version = model._load(None, False)  # another load: another version, never joined with this one
    x3, x4 = np.ones((1, 3), np.float32), np.ones((1, 4), np.float32)
    calls.start(lambda: model.run(loaded, {"x": x3}))
    assert model.entered.wait(WAIT)
    queued: list[tuple[LoadedModel, np.ndarray, list[str] | None]] = [
        (loaded, x3, None), (loaded, x3 * 2, None),  # these two join
        (loaded, x4, None),  # another size of the non-batch dimension
        (loaded, x3 * 3, ["minus"]),  # other outputs requested
        (other_version, x3 * 4, None),  # another model version
    ]  # fmt: skip
    for count, (version, x, outputs) in enumerate(queued, start=1):
        calls.start(lambda v=version, x=x, o=outputs: model.run(v, {"x": x}, o))  # type: ignore[misc]
        wait_queued(model, count)
    model.gate.set()
    results = calls.join()
    assert model.runs == [1, 2, 1, 1, 1]
    assert np.array_equal(results[2][0][0], x3 * 4) and np.array_equal(results[2][0][1], -x3 * 2)
    assert np.array_equal(results[3][0][0], x4 * 2)
    assert len(results[4][0]) == 1 and np.array_equal(results[4][0][0], -x3 * 3)
    assert np.array_equal(results[5][0][0], x3 * 8)
    report = model.batching_report(loaded)
    assert report is not None and report["batch_sizes"] == {"1": 4, "2": 1} and report["fallbacks"] == 0


def test_one_bad_request_does_not_fail_the_others(tmp_path: Path) -> None:
    """Out-of-range token ids pass validation (they are int64) but fail inside the run: the joined run
    fails, so each request runs alone and only the bad one gets an error, its own."""
    model = GatedModel("emb", str(embedding(tmp_path / "e.onnx")), max_batch_size=8, max_batch_delay_ms=0)
    loaded, calls = model.get(), Calls()
    good = [np.array([[0, 1]], np.int64), np.array([[2, 3]], np.int64), np.array([[3, 3]], np.int64)]
    calls.start(lambda: model.run(loaded, {"ids": good[0]}))
    assert model.entered.wait(WAIT)
    for count, ids in enumerate([good[1], np.array([[1, 99]], np.int64), good[2]], start=1):
        calls.start(lambda ids=ids: model.run(loaded, {"ids": ids}))  # type: ignore[misc]
        wait_queued(model, count)
    model.gate.set()
    results = calls.join()
    assert model.runs == [1, 3, 1, 1, 1]  # the joined run of 3 failed; then each alone
    table = np.arange(8, dtype=np.float32).reshape(4, 2)
    assert np.array_equal(results[1][0][0], table[good[1]]) and np.array_equal(results[3][0][0], table[good[2]])
    assert isinstance(results[2], BadRequest) and "idx=99" in results[2].message
    report = model.batching_report(loaded)
    assert report is not None and report["fallbacks"] == 1


def test_a_lone_request_runs_at_once_whatever_the_delay(
    tmp_path: Path, rows: np.ndarray, unbounded_delay: None
) -> None:
    """With the model idle after runs of one request, a request runs without waiting: a 10-minute delay
    would otherwise hold it."""
    model = OnnxModel("m", str(mlp(tmp_path / "m.onnx")), max_batch_size=32, max_batch_delay_ms=600_000)
    loaded, calls = model.get(), Calls()
    for index in range(3):  # one after another: each finds the model idle
        calls.start(lambda index=index: model.run(loaded, {"x": rows[index : index + 1]}))  # type: ignore[misc]
        calls.join()
    assert all(np.array_equal(calls.results[i][0][0], model.run_alone(loaded, {"x": rows[i : i + 1]})[0][0])
               for i in range(3))  # fmt: skip
    report = model.batching_report(loaded)
    assert report is not None and report["batch_sizes"] == {"1": 3}


def test_app_settings_override_the_declared_batching(
    tmp_path: Path, rows: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(mlp(tmp_path / "m.onnx"))
    monkeypatch.setenv("FUNNX_MY_MODEL_MAX_BATCH_SIZE", "16")
    monkeypatch.setenv("FUNNX_MY_MODEL_MAX_BATCH_DELAY_MS", "0.5")
    on = OnnxModel("my-model", path).get()  # declared off, turned on by the settings
    assert on.batching is not None and (on.batching.max_batch_size, on.batching.max_batch_delay_ms) == (16, 0.5)
    # a batching model's one run at a time gets every core, and its threads do not spin between runs
    assert on.config.intra_op_threads is not None and on.config.intra_op_spinning is False
    assert on.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    monkeypatch.setenv("FUNNX_MY_MODEL_INTRA_OP_SPINNING", "true")  # a session option setting still wins
    assert OnnxModel("my-model", path).get().config.intra_op_spinning is True
    monkeypatch.delenv("FUNNX_MY_MODEL_INTRA_OP_SPINNING")
    monkeypatch.setenv("FUNNX_MY_MODEL_MAX_BATCH_SIZE", "1")
    assert OnnxModel("my-model", path, max_batch_size=8).get().batching is None  # declared on, turned off
    monkeypatch.setenv("FUNNX_MY_MODEL_MAX_BATCH_SIZE", "lots")
    with pytest.raises(ModelUnavailable, match="FUNNX_MY_MODEL_MAX_BATCH_SIZE sets max_batch_size to 'lots'"):
        OnnxModel("my-model", path).get()


def test_a_model_without_a_batch_axis_runs_unbatched_and_says_why(tmp_path: Path) -> None:
    path = str(mlp(tmp_path / "m.onnx"))
    fixed = tmp_path / "fixed.onnx"
    model_proto = onnx.load(path)
    model_proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1  # batch fixed at 1
    onnx.save(model_proto, str(fixed))
    model = OnnxModel("fixed", str(fixed), max_batch_size=8)
    loaded = model.get()
    assert loaded.batching is None
    outputs, _ = model.run(loaded, {"x": np.zeros((1, 256), np.float32)})
    assert outputs[0].shape == (1, 10)
    report = model.batching_report(loaded)
    assert report is not None and report["enabled"] is False and report["max_batch_size"] == 8
    assert "no symbolic first (batch) dimension" in report["reason"]


def test_the_report_of_a_model_that_cannot_batch_gives_what_was_asked_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Metadata describes the loaded model: a setting changed since takes effect (and shows) at the next load."""
    model_proto = onnx.load(str(mlp(tmp_path / "m.onnx")))
    model_proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(model_proto, str(tmp_path / "fixed.onnx"))
    monkeypatch.setenv("FUNNX_FIXED_MAX_BATCH_SIZE", "8")
    model = OnnxModel("fixed", str(tmp_path / "fixed.onnx"))
    loaded = model.get()
    monkeypatch.setenv("FUNNX_FIXED_MAX_BATCH_SIZE", "lots")  # read per request, this made metadata fail
    report = model.batching_report(loaded)
    assert report is not None and report["max_batch_size"] == 8 and report["enabled"] is False


def test_the_thread_count_lets_a_full_batch_gather_while_another_runs() -> None:
    assert worker_threads(32) == 64


def test_a_request_that_cannot_join_anything_does_not_wait_for_company(tmp_path: Path, unbounded_delay: None) -> None:
    """Inputs whose first dimensions differ (the model allows it) cannot join a batch: when such a
    request leads a run it runs at once instead of waiting the (10-minute) delay for others."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["a"], ["a_out"]), helper.make_node("Identity", ["b"], ["b_out"])],
        "two_batches",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n", 2]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, ["m", 2])],
        [helper.make_tensor_value_info("a_out", TensorProto.FLOAT, ["n", 2]),
         helper.make_tensor_value_info("b_out", TensorProto.FLOAT, ["m", 2])],
    )  # fmt: skip
    path = _save(helper.make_model(graph, opset_imports=OPSET), tmp_path / "two.onnx")
    model = GatedModel("two", str(path), max_batch_size=8, max_batch_delay_ms=600_000)
    loaded, calls = model.get(), Calls()
    calls.start(lambda: model.run(loaded, {"a": np.ones((1, 2), np.float32), "b": np.ones((1, 2), np.float32)}))
    assert model.entered.wait(WAIT)
    calls.start(lambda: model.run(loaded, {"a": np.ones((1, 2), np.float32), "b": np.zeros((3, 2), np.float32)}))
    wait_queued(model, 1)
    model.gate.set()
    results = calls.join()
    assert model.runs == [1, 1] and results[1][0][1].shape == (3, 2)


def test_after_a_shared_run_a_request_finding_the_model_idle_waits_for_company(
    gated: GatedModel, rows: np.ndarray
) -> None:
    """Under load the answers of a run go out one by one and their next requests come back one by one:
    the first back must not run alone while the rest queue behind it. After a run of several requests
    an idle arrival leads and gathers (here up to the 4-row limit; the 60 s delay is never reached)."""
    loaded, calls = one_then_four(gated, rows)
    calls.join()
    assert gated.runs == [1, 4]  # the model is idle now, and its last run was shared
    for index in range(4, 8):
        calls.start(lambda index=index: gated.run(loaded, {"x": rows[index : index + 1]}))  # type: ignore[misc]
    results = calls.join()
    assert gated.runs == [1, 4, 4]  # without the wait: the first back ran alone, e.g. [1, 4, 1, 3]
    for index in range(4, 8):  # call 5 sent row 4, …
        assert np.array_equal(results[index + 1][0][0], gated.run_alone(loaded, {"x": rows[index : index + 1]})[0][0])


def test_a_leader_whose_gathering_fails_does_not_wedge_the_model(
    gated: GatedModel, rows: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wait for company is interrupted (here: made to raise once): that request gets the error,
    and the model does not stay busy for a leader that is gone; the next request is answered."""
    loaded, calls = one_then_four(gated, rows)
    calls.join()
    assert gated.runs == [1, 4]  # shared: the next idle arrival gathers, and waits for company
    arrival = gated._batcher._arrival
    real_wait = arrival.wait

    def interrupted(timeout: float | None = None) -> bool:
        monkeypatch.setattr(arrival, "wait", real_wait)
        raise OverflowError("timeout value is too large")

    monkeypatch.setattr(arrival, "wait", interrupted)
    with pytest.raises(OverflowError):
        gated.run(loaded, {"x": rows[5:6]})
    for index in range(4, 8):  # the next arrival gathers again (the last run was shared): fill its batch
        calls.start(lambda index=index: gated.run(loaded, {"x": rows[index : index + 1]}))  # type: ignore[misc]
    results = calls.join()
    assert gated.runs == [1, 4, 4]  # without the fix the first of these queues behind the vanished leader
    assert np.array_equal(results[5][0][0], gated.run_alone(loaded, {"x": rows[4:5]})[0][0])


def test_a_delay_over_a_second_is_refused_by_its_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A leader may wait the whole delay for company: a larger one could only stall requests."""
    monkeypatch.setenv("FUNNX_M_MAX_BATCH_DELAY_MS", "1e13")
    with pytest.raises(
        ModelUnavailable,
        match=r"FUNNX_M_MAX_BATCH_DELAY_MS sets max_batch_delay_ms to '1e13'; use milliseconds, 0 to 1000",
    ):
        OnnxModel("m", str(mlp(tmp_path / "m.onnx")), max_batch_size=8).get()
