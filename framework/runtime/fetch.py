"""Source → local file: resolve a local path, or download a blob into the cache and verify it.

Storage code never touches HTTP requests or sessions; this module only produces a verified file on
disk and the version it corresponds to, recording how long each step took. :func:`probe` reads the
current version without downloading, for refreshes.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from framework.errors import ModelUnavailable

from . import registry, settings
from .cache import ModelCache
from .sources import BlobSource, LocalSource, ModelSource, RegistrySource, UrlSource

if TYPE_CHECKING:
    from .blobstore import BlobVersion, RemoteBlob

_CHUNK = 1 << 20
RetryNotice = Callable[[str], None]


@dataclass(frozen=True)
class FetchedModel:
    path: Path
    etag: str | None  # the blob's ETag; None for local files
    cached: bool  # True when a blob was found in the cache (no download)
    size: int
    model_version: str | None = None  # the registry version, for registered models
    identity: str = ""  # what probe() returns for this exact version
    timings: dict[str, float] = field(default_factory=dict)  # ms per step: sdk, head, download, verify


def fetch_model(
    source: ModelSource,
    model: str,
    rejected: Mapping[str, str] | None = None,
    on_retry: RetryNotice | None = None,
) -> FetchedModel:
    """A verified local file holding the model's current version, and how long each step took.

    ``rejected`` maps identities onnxruntime refused to the error to repeat: such a version is not
    downloaded again, only a new one is. ``on_retry`` hears about each storage retry as it starts.
    """
    if isinstance(source, LocalSource):
        path = source.resolve()
        if not path.is_file():
            raise ModelUnavailable(
                f"model '{model}': file {path} does not exist; fix the source path (relative paths "
                "start at the app root)"
            )
        return FetchedModel(path, None, False, path.stat().st_size, identity=_local_identity(path))
    if isinstance(source, RegistrySource):
        blob_source, version = _registered(source, model)
        fetched = _fetch_blob(blob_source, model, rejected or {}, on_retry, prefix=f"{version}@")
        return replace(fetched, model_version=version)
    return _fetch_blob(source, model, rejected or {}, on_retry, prefix="")


def probe(source: ModelSource, model: str) -> str:
    """The identity of the source's current version (a HEAD, no download): compare with a fetched one."""
    if isinstance(source, LocalSource):
        path = source.resolve()
        return _local_identity(path) if path.is_file() else "missing"
    from . import blobstore

    prefix = ""
    if isinstance(source, RegistrySource):
        blob_source, version = _registered(source, model)
        prefix, source = f"{version}@", blob_source
    return prefix + blobstore.open_blob(source, model).properties().etag


def _local_identity(path: Path) -> str:
    stat = path.stat()
    return f"local:{stat.st_mtime_ns}:{stat.st_size}"


def _registered(source: RegistrySource, model: str) -> tuple[BlobSource, str]:
    from . import blobstore

    container = registry.container_name()
    version = source.version
    if version == registry.LATEST:
        service = blobstore.service_client(source.connection, model, source.describe())
        version = registry.resolve_latest(service.get_container_client(container), source.name, model)
    return BlobSource(container, registry.model_blob(source.name, version), source.connection), version


def _fetch_blob(
    source: BlobSource | UrlSource, model: str, rejected: Mapping[str, str], on_retry: RetryNotice | None, prefix: str
) -> FetchedModel:
    timings: dict[str, float] = {}
    start = time.perf_counter()
    from . import blobstore  # the storage SDK loads here, only for blob sources

    blob = blobstore.open_blob(source, model)
    blob.on_retry = on_retry
    timings["sdk_ms"] = ms_since(start)

    start = time.perf_counter()
    version = blob.properties()
    timings["head_ms"] = ms_since(start)
    identity = prefix + version.etag
    if identity in rejected:
        raise ModelUnavailable(rejected[identity])

    cache = ModelCache(settings.cache_dir())
    try:
        fetched = _from_cache_or_download(cache, blob, version, f"model '{model}' from {source.describe()}")
    except OSError as err:
        raise ModelUnavailable(
            f"model '{model}': the model cache folder {cache.root} is not usable ({err.strerror or err}); "
            f"set {settings.CACHE_DIR_SETTING} to a folder of this user's own, writable, with room for the model"
        ) from None
    return replace(fetched, identity=identity, timings={**timings, **fetched.timings})


def _from_cache_or_download(
    cache: ModelCache, blob: RemoteBlob, version: BlobVersion, description: str
) -> FetchedModel:
    timings: dict[str, float] = {}
    cached = cache.lookup(blob.identity, version.etag, version.size)
    if cached is not None:
        return FetchedModel(path=cached, etag=version.etag, cached=True, size=version.size)

    start = time.perf_counter()

    def verify(path: Path) -> None:
        verify_started = time.perf_counter()
        timings["download_ms"] = ms_since(start)
        verify_file(path, version.size, version.content_md5, version.sha256, description)
        timings["verify_ms"] = ms_since(verify_started)

    path = cache.store(blob.identity, version.etag, lambda stream: blob.download_into(stream, version), verify)
    return FetchedModel(path=path, etag=version.etag, cached=False, size=version.size, timings=timings)


def verify_file(path: Path, size: int, md5: bytes | None, sha256: str | None, description: str) -> None:
    """Raise ModelUnavailable unless the file has the expected size and digests."""
    actual_size = path.stat().st_size
    if actual_size != size:
        raise ModelUnavailable(f"{description}: download truncated ({actual_size} of {size} bytes); retrying later")
    if md5 is None and sha256 is None:
        return
    md5_hash = hashlib.md5(usedforsecurity=False) if md5 is not None else None
    sha_hash = hashlib.sha256() if sha256 is not None else None
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            if md5_hash is not None:
                md5_hash.update(chunk)
            if sha_hash is not None:
                sha_hash.update(chunk)
    if md5_hash is not None and md5_hash.digest() != md5:
        raise ModelUnavailable(
            f"{description}: Content-MD5 mismatch (blob says {base64.b64encode(md5 or b'').decode()}); "
            "the download was corrupted or the blob's MD5 is stale"
        )
    if sha_hash is not None and sha_hash.hexdigest() != (sha256 or "").lower():
        raise ModelUnavailable(f"{description}: sha256 mismatch with the blob's 'sha256' metadata; re-upload the model")


def ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
