"""The model-loading state machine with a fake clock and fake loads: no storage, no sleeps.

Loads run on the lifecycle's own background threads; the fakes block on events the tests release,
so every interleaving below is forced rather than hoped for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from framework.errors import ModelUnavailable
from framework.runtime.lifecycle import Lifecycle
from framework.runtime.loading import LoadedModel
from framework.runtime.session_options import SessionConfig

WAIT = 5.0  # how long a test waits for a background thread before it fails


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def version(identity: str, refresh_every: float | None = None) -> LoadedModel:
    return LoadedModel(
        session=None, signature=None, etag=identity, model_version=None, identity=identity,  # type: ignore[arg-type]
        path=Path(identity), config=SessionConfig(), refresh_every=refresh_every,
    )  # fmt: skip


class FakeSource:
    """Loads that block until released; each release gives a version or raises an error."""

    def __init__(self) -> None:
        self.calls = 0
        self.started = threading.Event()
        self.outcomes: list[tuple[threading.Event, Callable[[], LoadedModel]]] = []
        self.current = "v1"

    def will(self, outcome: Callable[[], LoadedModel]) -> threading.Event:
        release = threading.Event()
        self.outcomes.append((release, outcome))
        return release

    def load(self, on_retry: Callable[[str], None] | None, speculate: bool) -> LoadedModel:
        self.calls += 1
        release, outcome = self.outcomes.pop(0)
        self.started.set()
        self.on_retry = on_retry
        assert release.wait(WAIT)
        return outcome()

    def probe(self) -> str:
        return self.current


def lifecycle(source: FakeSource, clock: Clock, load_wait: float = WAIT, retry_after: float = 2.0) -> Lifecycle:
    return Lifecycle("m", "az://models/m.onnx", source.load, source.probe,
                     load_wait=lambda: load_wait, retry_after=lambda: retry_after, clock=clock)  # fmt: skip


def failing(message: str) -> Callable[[], LoadedModel]:
    def fail() -> LoadedModel:
        raise ModelUnavailable(message)

    return fail


def test_concurrent_first_requests_share_one_load() -> None:
    source, clock = FakeSource(), Clock()
    release = source.will(lambda: version("v1"))
    model = lifecycle(source, clock)
    assert model.state == "idle"
    with ThreadPoolExecutor(16) as pool:
        waiting = [pool.submit(model.get) for _ in range(16)]
        assert source.started.wait(WAIT)
        assert model.state == "loading"
        release.set()
        assert {f.result(WAIT).identity for f in waiting} == {"v1"}
    assert source.calls == 1 and model.state == "ready"


def test_a_failure_is_remembered_for_the_retry_window_then_retried() -> None:
    source, clock = FakeSource(), Clock()
    source.will(failing("blob missing")).set()
    model = lifecycle(source, clock, retry_after=2.0)
    with pytest.raises(ModelUnavailable, match="blob missing") as first:
        model.get()
    assert first.value.retry_after == 2.0 and model.state == "failed"
    clock.now += 1.5
    with pytest.raises(ModelUnavailable, match="blob missing") as again:
        model.get()  # within the window: answered from memory, no new load
    assert again.value.retry_after == pytest.approx(0.5) and source.calls == 1
    clock.now += 1.0
    source.will(lambda: version("v1")).set()
    assert model.get().identity == "v1" and source.calls == 2 and model.state == "ready"


def test_retrying_storage_answers_503_at_once_while_the_load_goes_on() -> None:
    source, clock = FakeSource(), Clock()
    release = source.will(lambda: version("v1"))
    model = lifecycle(source, clock)
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(_catch(model.get)))
    thread.start()
    assert source.started.wait(WAIT)
    assert source.on_retry is not None
    source.on_retry("storage unreachable, retrying")
    thread.join(WAIT)
    assert isinstance(outcome[0], ModelUnavailable) and outcome[0].state == "loading"
    assert "storage unreachable, retrying in the background" in outcome[0].message
    release.set()
    assert _wait_for(lambda: model.state == "ready")
    assert model.get().identity == "v1" and source.calls == 1


def test_a_request_stops_waiting_after_the_load_wait() -> None:
    source, clock = FakeSource(), Clock()
    release = source.will(lambda: version("v1"))
    model = lifecycle(source, clock, load_wait=0.0)
    with pytest.raises(ModelUnavailable, match=r"is loading az://models/m\.onnx") as waiting:
        model.get()
    assert waiting.value.state == "loading" and waiting.value.retry_after == 1
    release.set()


def test_readiness_probes_start_a_load_but_never_wait_for_it() -> None:
    source, clock = FakeSource(), Clock()
    release = source.will(lambda: version("v1"))
    model = lifecycle(source, clock)
    with pytest.raises(ModelUnavailable) as probe:
        model.ready(settle_seconds=0.0)
    assert probe.value.state == "loading" and source.started.wait(WAIT)
    release.set()
    assert _wait_for(lambda: model.state == "ready")
    assert model.ready().identity == "v1"


def test_a_due_refresh_swaps_in_a_new_version_and_only_then() -> None:
    source, clock = FakeSource(), Clock()
    source.will(lambda: version("v1", refresh_every=60)).set()
    model = lifecycle(source, clock)
    first = model.get()
    clock.now += 30
    assert model.get() is first and source.calls == 1  # not due yet
    clock.now += 31
    assert model.get() is first  # due: the check runs in the background, this request keeps v1
    assert _wait_for(lambda: not model._refreshing)
    assert source.calls == 1  # same version: nothing loaded
    source.current = "v2"
    clock.now += 61
    release = source.will(lambda: version("v2", refresh_every=60))
    assert model.get() is first
    release.set()
    assert _wait_for(lambda: model.loaded is not None and model.loaded.identity == "v2")
    assert model.get().identity == "v2" and source.calls == 2


def test_a_failed_refresh_keeps_serving_the_old_version() -> None:
    source, clock = FakeSource(), Clock()
    source.will(lambda: version("v1", refresh_every=10)).set()
    model = lifecycle(source, clock)
    first = model.get()
    source.current = "v2"
    clock.now += 11
    source.will(failing("v2 is garbage")).set()
    model.get()
    assert _wait_for(lambda: source.calls == 2 and not model._refreshing)
    assert model.get() is first and model.state == "ready"


def _catch(call: Callable[[], object]) -> object:
    try:
        return call()
    except ModelUnavailable as err:
        return err


def _wait_for(condition: Callable[[], bool]) -> bool:
    """Poll a condition set by a background thread (returns at once when it already holds)."""
    done = threading.Event()
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return True
        done.wait(0.01)
    return condition()
