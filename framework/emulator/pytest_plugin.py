"""funnx's pytest plugin (registered by entry point, so installing funnx enables it).

Fixtures for testing a Functions app:

* ``funnx_azurite`` (session): a real Azurite blob service on a free port, stopped afterwards;
  skipped when Azurite is not installed, unless ``FUNNX_REQUIRE_AZURITE=1`` makes that a failure.
* ``funnx_upload``: ``funnx_upload(file_or_bytes, "az://container/blob")`` puts a model into that
  Azurite (creating the container) and returns the blob's ETag; what a test uploads is deleted
  after it, so every test starts from the same (empty) storage.
* ``funnx_app``: the app served both in-process (``.client``, a TestClient) and over loopback HTTP
  (``.url``), from one loaded app; blob models read from ``funnx_azurite`` when Azurite is
  installed (else from the app's own settings, so tests of local models never skip). The app
  folder is the nearest folder above the test file holding host.json; override the
  ``funnx_app_dir`` fixture to choose another.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported in the fixtures, so pytest starts fast in projects that don't use them
    from .azurite import Azurite
    from .client import TestClient
    from .host import EmulatorHost

Uploader = Callable[[Path | bytes, str], str]


@dataclass
class ServedApp:
    app_dir: Path
    client: TestClient
    url: str  # base URL of the loopback server, e.g. http://127.0.0.1:53211
    host: EmulatorHost


@pytest.fixture(scope="session")
def funnx_azurite(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    from .azurite import Azurite, find_azurite

    binary = find_azurite(request.config.rootpath)
    if binary is None:
        if os.environ.get("FUNNX_REQUIRE_AZURITE") == "1":
            pytest.fail("Azurite is required (FUNNX_REQUIRE_AZURITE=1) but not installed: run 'npm ci'")
        pytest.skip("Azurite is not installed (npm install azurite); blob storage tests skipped")
    with Azurite(binary=binary, debug_log=tmp_path_factory.mktemp("azurite") / "debug.log") as azurite:
        yield azurite


@pytest.fixture
def funnx_upload(funnx_azurite: Azurite) -> Iterator[Uploader]:
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    from framework.runtime.sources import BlobSource, parse_source

    service = BlobServiceClient.from_connection_string(funnx_azurite.connection_string)
    uploaded: list[tuple[str, str]] = []

    def upload(model: Path | bytes, target: str) -> str:
        source = parse_source(target)
        if not isinstance(source, BlobSource):
            raise ValueError(f"upload target must be az://<container>/<blob>, not {target!r}")
        with contextlib.suppress(ResourceExistsError):
            service.create_container(source.container)
        data = model if isinstance(model, bytes) else Path(model).read_bytes()
        result = service.get_blob_client(source.container, source.blob).upload_blob(data, overwrite=True)
        uploaded.append((source.container, source.blob))
        return str(result["etag"])

    yield upload
    for container, blob in uploaded:
        with contextlib.suppress(Exception):
            service.get_blob_client(container, blob).delete_blob()


@pytest.fixture
def funnx_app_dir(request: pytest.FixtureRequest) -> Path:
    for folder in [request.path.parent, *request.path.parents]:
        if (folder / "host.json").is_file():
            return folder
    raise pytest.UsageError(f"no host.json above {request.path}; override the funnx_app_dir fixture")


@pytest.fixture
def funnx_app(request: pytest.FixtureRequest, funnx_app_dir: Path, tmp_path: Path) -> Iterator[ServedApp]:
    from . import devstorage
    from .azurite import find_azurite
    from .client import TestClient
    from .host import EmulatorHost
    from .server import BackgroundServer

    host = EmulatorHost(funnx_app_dir, settings={"FUNNX_MODEL_CACHE_DIR": str(tmp_path / "model-cache")})
    try:
        if devstorage.blob_models(host) and find_azurite(request.config.rootpath) is not None:
            azurite: Azurite = request.getfixturevalue("funnx_azurite")
            devstorage.use_storage(host, azurite.connection_string)
        with BackgroundServer(host) as server, TestClient(host=host) as client:
            yield ServedApp(funnx_app_dir, client, server.url, host)
    finally:
        host.close()
