"""The model registry on blob storage: layout, manifests and version resolution.

Like Azure ML's registered models, each upload is an immutable version:

    <container>/<name>/<version>/model.onnx   the model (blob metadata: sha256)
    <container>/<name>/<version>/model.json   its manifest (sha256, size, tags, description, signature)
    <container>/<name>/latest                 the newest version's name, written last

A function declares ``<name>:<version>`` or ``<name>:latest`` as its source; the container is
``FUNNX_REGISTRY_CONTAINER`` (default ``models``) in the function's connection. ``latest`` is read
from the pointer blob, so moving it is the only step that publishes a version.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from framework.errors import ModelUnavailable

from . import settings

CONTAINER_SETTING = "FUNNX_REGISTRY_CONTAINER"
DEFAULT_CONTAINER = "models"
LATEST = "latest"
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def container_name(explicit: str | None = None) -> str:
    return explicit or settings.get(CONTAINER_SETTING) or DEFAULT_CONTAINER


def model_blob(name: str, version: str) -> str:
    return f"{name}/{version}/model.onnx"


def manifest_blob(name: str, version: str) -> str:
    return f"{name}/{version}/model.json"


def latest_blob(name: str) -> str:
    return f"{name}/{LATEST}"


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    sha256: str
    size: int
    tags: dict[str, str]
    description: str
    signature: dict[str, Any]
    uploaded_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "size": self.size,
            "tags": self.tags,
            "description": self.description,
            "signature": self.signature,
            "uploaded_at": self.uploaded_at,
        }

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw = json.loads(data)
        return cls(
            name=str(raw["name"]),
            version=str(raw["version"]),
            sha256=str(raw["sha256"]),
            size=int(raw["size"]),
            tags={str(k): str(v) for k, v in dict(raw.get("tags") or {}).items()},
            description=str(raw.get("description") or ""),
            signature=dict(raw.get("signature") or {}),
            uploaded_at=str(raw.get("uploaded_at") or ""),
        )


def next_version(existing: list[str]) -> str:
    """One more than the highest numeric version (versions are 1, 2, 3...; named ones are skipped)."""
    numbers = [int(v) for v in existing if v.isdigit()]
    return str(max(numbers, default=0) + 1)


def resolve_latest(container: Any, name: str, model: str) -> str:
    """The version the ``latest`` pointer names (``container`` is an azure ContainerClient)."""
    from .blobstore import explain

    try:
        text = str(container.get_blob_client(latest_blob(name)).download_blob().readall().decode("utf-8")).strip()
    except Exception as err:
        raise ModelUnavailable(
            f"model '{model}': cannot read the latest version of registry model '{name}' "
            f"(az://{container.container_name}/{latest_blob(name)}): {explain(err, None, container.url)}"
        ) from None
    if not VERSION.match(text):
        raise ModelUnavailable(f"model '{model}': the latest pointer of '{name}' holds {text[:40]!r}, not a version")
    return text
