"""The model cache is this user's alone: whoever can write a file in it chooses the model that runs."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from framework.emulator import TestClient
from framework.runtime import settings
from tests.conftest import AzuriteService
from tests.models import add_one
from tests.storage.test_blob_models import blob_function

pytestmark = pytest.mark.storage
OTHER_USER = 54321


def test_the_default_cache_is_a_folder_of_this_users_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.CACHE_DIR_SETTING)
    assert settings.cache_dir() == Path(tempfile.gettempdir()) / f"funnx-models-{os.getuid()}"


def test_a_cache_folder_open_to_others_is_closed_and_one_of_another_user_refused(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blob_function(app_dir, azurite, "add", add_one(tmp_path / "add.onnx"))
    cache = tmp_path / "shared-cache"
    cache.mkdir(mode=0o777)
    cache.chmod(0o777)
    settings_ = {"AzureWebJobsStorage": azurite.connection_string, settings.CACHE_DIR_SETTING: str(cache)}
    with TestClient(app_dir, settings=settings_) as client:
        assert client.post("/api/add", json={"data": [1.0]}).status_code == 200
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700

    if os.getuid() != 0:
        pytest.skip("making a folder of another user needs root")
    theirs = tmp_path / "their-cache"
    theirs.mkdir()
    os.chown(theirs, OTHER_USER, OTHER_USER)
    with TestClient(app_dir, settings={**settings_, settings.CACHE_DIR_SETTING: str(theirs)}) as client:
        refused = client.post("/api/add", json={"data": [1.0]})
        assert refused.status_code == 503
        assert "belongs to another user" in refused.json()["error"]
        assert settings.CACHE_DIR_SETTING in refused.json()["error"]


def test_a_planted_model_is_not_served(app_dir: Path, azurite: AzuriteService, tmp_path: Path) -> None:
    """A file of the right name and size written by another user is ignored: the blob is downloaded."""
    if os.getuid() != 0:
        pytest.skip("planting a file as another user needs root")
    blob_function(app_dir, azurite, "add", add_one(tmp_path / "add.onnx", offset=1.0))
    cache = tmp_path / "cache"
    settings_ = {"AzureWebJobsStorage": azurite.connection_string, settings.CACHE_DIR_SETTING: str(cache)}
    with TestClient(app_dir, settings=settings_) as client:
        assert client.post("/api/add", json={"data": [1.0]}).json()["result"] == [[2.0]]
    cached = next(cache.glob("*.onnx"))
    planted = add_one(tmp_path / "planted.onnx", offset=1000.0).read_bytes()
    assert len(planted) == cached.stat().st_size  # the same model with another constant: the same size
    cached.write_bytes(planted)
    os.chown(cached, OTHER_USER, OTHER_USER)
    with TestClient(app_dir, settings=settings_) as client:  # a new worker: finds the file, ignores it
        assert client.post("/api/add", json={"data": [1.0]}).json()["result"] == [[2.0]]
