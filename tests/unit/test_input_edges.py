"""Edges of the input that used to slip through: multi-member gzip, trailing junk, infinite settings,
built-in function names."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import pytest

from framework.emulator import TestClient
from framework.runtime import settings
from framework.runtime.settings import BODY_LIMIT_SETTING
from tests.conftest import run_cli
from tests.models import add_one


@pytest.fixture
def app(app_dir: Path) -> Path:
    assert run_cli("new", "add", "--model", add_one(app_dir / "models" / "add.onnx"), "--app", app_dir).exit_code == 0
    return app_dir


def test_gzip_bodies_of_several_members_are_joined_and_trailing_junk_is_refused(app: Path) -> None:
    simple_body = gzip.compress(b'{"data": ') + gzip.compress(b"[1.0, 2.0]}")  # RFC 1952: members concatenated
    infer = b'{"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", '
    oip_body = gzip.compress(infer) + gzip.compress(b'"data": [1.0, 2.0]}]}')
    with TestClient(app) as client:
        for path, content in (("/api/add", simple_body), ("/api/v2/models/add/infer", oip_body)):
            reply = client.post(path, data=content, headers={"content-encoding": "gzip"})
            assert reply.status_code == 200, reply.text
        junk = client.post("/api/add", data=gzip.compress(b'{"data": [1.0]}') + b"junk",
                           headers={"content-encoding": "gzip"})  # fmt: skip
        assert junk.status_code == 400 and "trailing data" in junk.json()["error"]
        tail = client.post("/api/add", data=zlib.compress(b'{"data": [1.0]}') + b"x",
                           headers={"content-encoding": "deflate"})  # fmt: skip
        assert tail.status_code == 400 and "trailing data" in tail.json()["error"]


@pytest.mark.parametrize(
    "setting", ["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", "FUNNX_LOAD_WAIT_SECONDS", "FUNNX_RETRY_AFTER_SECONDS"]
)
@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e999"])
def test_infinite_or_nan_settings_fall_back_to_the_default(app: Path, setting: str, value: str) -> None:
    with TestClient(app, settings={setting: value}) as client:
        reply = client.post("/api/add", json={"data": [1.0, 2.0]})
        assert reply.status_code == 200, reply.text
        assert reply.json()["result"] == [[2.0, 3.0]]


@pytest.mark.parametrize("name", ["funnx", "funnx_openapi", "funnx_docs", "funnx_warmup", "FUNNX"])
def test_names_that_would_clash_with_built_in_functions_are_refused(app_dir: Path, name: str) -> None:
    refused = run_cli("new", name, "--model", "az://models/x.onnx", "--app", app_dir)
    assert refused.exit_code == 1 and "which funnx registers for every app; choose another" in refused.output
    assert not (app_dir / "functions_app" / f"{name.lower()}.py").exists()


@pytest.mark.parametrize("data", [[True, 1.0], [1.0, True], [[1.0, 2.0], [False, 3.0]], [1, False]])
def test_true_and_false_are_refused_in_numeric_inputs_on_both_contracts(app: Path, data: list[object]) -> None:
    count = int(np.asarray(data).size)
    with TestClient(app) as client:
        for body in ({"data": data}, {"inputs": {"x": data}}):
            reply = client.post("/api/add", json=body)
            assert reply.status_code == 400, reply.text
            assert "holds true/false values" in reply.json()["error"]
        infer = {"inputs": [{"name": "x", "shape": [count], "datatype": "FP32", "data": data}]}
        reply = client.post("/api/v2/models/add/infer", json=infer)
        assert reply.status_code == 400 and "holds true/false values" in reply.json()["error"]


def test_bool_inputs_still_take_true_and_false(app_dir: Path) -> None:
    from tests.models import mixed_inputs

    assert run_cli("new", "mixed", "--model", mixed_inputs(app_dir / "m.onnx"), "--app", app_dir).exit_code == 0
    inputs = {"x": [[1.0, 2.0, 3.0]], "scale": 2, "mask": [True], "tags": ["true"]}
    with TestClient(app_dir) as client:
        reply = client.post("/api/mixed", json={"inputs": inputs})
        assert reply.status_code == 200, reply.text
        assert reply.json()["result"]["count"] == 1


def test_the_body_limit_is_read_once_per_process_until_reread(monkeypatch: pytest.MonkeyPatch) -> None:
    """It is asked several times per request; in Azure app settings change only with a restart."""
    try:
        monkeypatch.setenv(BODY_LIMIT_SETTING, "1000")
        settings.reread()
        assert settings.body_limit() == 1000
        monkeypatch.setenv(BODY_LIMIT_SETTING, "2000")
        assert settings.body_limit() == 1000
        settings.reread()
        assert settings.body_limit() == 2000
    finally:
        monkeypatch.undo()
        settings.reread()


def test_each_emulator_host_applies_its_own_body_limit(app: Path) -> None:
    body = {"data": [1.0] * 40}
    with TestClient(app, settings={BODY_LIMIT_SETTING: "64"}) as client:
        assert client.post("/api/add", json=body).status_code == 413
    with TestClient(app, settings={BODY_LIMIT_SETTING: "100000"}) as client:
        assert client.post("/api/add", json=body).status_code == 200
    with TestClient(app) as client:  # unset again: the host's 100 MiB
        assert settings.body_limit() == settings.DEFAULT_BODY_LIMIT
        assert client.post("/api/add", json=body).status_code == 200


def test_a_body_limit_set_while_the_host_runs_applies_to_the_next_request(app: Path) -> None:
    body = {"data": [1.0] * 40}
    with TestClient(app) as client:
        assert client.post("/api/add", json=body).status_code == 200  # the runtime now keeps 100 MiB
        client.host.set_settings({BODY_LIMIT_SETTING: "64"})
        assert client.post("/api/add", json=body).status_code == 413
