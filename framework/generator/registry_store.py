"""Upload, list and show registered models (used by ``funnx model``; never on the request path).

An upload checks the file loads in onnxruntime, hashes it (sha256 and MD5 in one pass), stores it
under the next version without overwriting anything (``if-none-match: *``; versions are immutable),
writes its manifest, and only then moves the ``latest`` pointer, so a reader never sees a version
that is not complete.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from framework.errors import RegistryError
from framework.runtime import registry
from framework.runtime.registry import Manifest
from framework.runtime.signature import read_signature

Progress = Callable[[int, int], None]


def _hashes(path: Path) -> tuple[str, bytes]:
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            sha256.update(chunk)
            md5.update(chunk)
    return sha256.hexdigest(), md5.digest()


def _signature_summary(path: Path) -> dict[str, Any]:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise RegistryError(f"onnxruntime cannot load {path}: {first}") from None
    signature = read_signature(session)
    return {
        "inputs": [spec.as_dict() for spec in signature.inputs],
        "outputs": [spec.as_dict() for spec in signature.outputs],
        "producer": signature.metadata.get("producer", ""),
    }


class RegistryStore:
    """The registry in one container (an azure ``ContainerClient``)."""

    def __init__(self, container: Any) -> None:
        self.container = container

    def versions(self, name: str) -> list[str]:
        prefix = f"{name}/"
        found = []
        for item in self.container.walk_blobs(name_starts_with=prefix, delimiter="/"):
            part = item.name[len(prefix) :].strip("/")
            if part and part != registry.LATEST and item.name.endswith("/"):
                found.append(part)
        return sorted(found, key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else 0, v))

    def latest(self, name: str) -> str | None:
        with contextlib.suppress(Exception):
            blob = self.container.get_blob_client(registry.latest_blob(name))
            return str(blob.download_blob().readall().decode("utf-8")).strip()
        return None

    def upload(
        self,
        path: Path,
        name: str,
        *,
        version: str | None = None,
        tags: dict[str, str] | None = None,
        description: str = "",
        move_latest: bool = True,
        progress: Progress | None = None,
    ) -> Manifest:
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import ContentSettings

        if not registry.NAME.match(name):
            raise RegistryError(f"invalid model name {name!r}: a letter, then letters, digits, '.', '-' or '_'")
        if version is not None and (not registry.VERSION.match(version) or version == registry.LATEST):
            raise RegistryError(f"invalid version {version!r}: letters, digits, '.', '-' or '_' (and not 'latest')")
        signature = _signature_summary(path)
        sha256, md5 = _hashes(path)
        size = path.stat().st_size
        with contextlib.suppress(ResourceExistsError):
            self.container.create_container()
        for _attempt in range(5):  # another uploader may take the same new number first
            chosen = version or registry.next_version(self.versions(name))
            blob = self.container.get_blob_client(registry.model_blob(name, chosen))
            try:
                with path.open("rb") as stream:
                    blob.upload_blob(
                        stream,
                        length=size,
                        overwrite=False,
                        metadata={"sha256": sha256},
                        content_settings=ContentSettings(
                            content_type="application/octet-stream", content_md5=bytearray(md5)
                        ),
                        max_concurrency=4,
                        progress_hook=progress,
                    )
                break
            except ResourceExistsError:
                if version is not None:
                    raise RegistryError(
                        f"{name}:{version} already exists; versions are immutable, upload a new one"
                    ) from None
        else:
            raise RegistryError(f"could not find a free version number for {name}; try again")
        manifest = Manifest(
            name=name,
            version=chosen,
            sha256=sha256,
            size=size,
            tags=dict(tags or {}),
            description=description,
            signature=signature,
            uploaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        import json

        self.container.get_blob_client(registry.manifest_blob(name, chosen)).upload_blob(
            json.dumps(manifest.as_dict(), indent=2).encode(), overwrite=True
        )
        if move_latest:
            self.container.get_blob_client(registry.latest_blob(name)).upload_blob(chosen.encode(), overwrite=True)
        return manifest

    def manifest(self, name: str, version: str) -> Manifest:
        from azure.core.exceptions import ResourceNotFoundError

        if version == registry.LATEST:
            version = self.latest(name) or ""
        try:
            data = self.container.get_blob_client(registry.manifest_blob(name, version)).download_blob().readall()
        except ResourceNotFoundError:
            known = ", ".join(self.versions(name)) or "none"
            raise RegistryError(f"no registered model {name}:{version or 'latest'} (versions: {known})") from None
        return Manifest.from_json(data)

    def manifests(self) -> list[Manifest]:
        found = []
        for blob in self.container.list_blobs():
            if blob.name.endswith("/model.json") and blob.name.count("/") == 2:
                found.append(Manifest.from_json(self.container.get_blob_client(blob.name).download_blob().readall()))
        return sorted(
            found,
            key=lambda m: (m.name, not m.version.isdigit(), int(m.version) if m.version.isdigit() else 0, m.version),
        )
