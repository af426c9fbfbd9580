"""``funnx start --azurite``: local blob storage for an app's models.

Azurite runs with its data in the app's git-ignored ``.azurite/`` folder. Every function whose model
is an ``az://`` blob gets its connection setting pointed at Azurite for this run (overriding
local.settings.json and the environment). With seeding, a blob missing from Azurite is uploaded from
a local file at ``<app>/<container>/<blob path>`` or ``<app>/<blob path>``, so a function declared
against production storage runs locally unchanged.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from framework.runtime.model import OnnxModel
from framework.runtime.sources import BlobSource

from .host import EmulatorHost

AZURITE_DATA = ".azurite"


def models_of(host: EmulatorHost) -> dict[str, OnnxModel]:
    """Function name → the model its blueprint serves (from the app's catalog)."""
    found: dict[str, OnnxModel] = {}
    for function in host.functions:
        entry = host.catalog.for_module(getattr(function.handler, "__module__", ""))
        if entry is not None:
            found[function.name] = entry.model
    return found


def blob_models(host: EmulatorHost) -> list[OnnxModel]:
    return [model for model in host.catalog.models().values() if isinstance(model.source, BlobSource)]


def use_storage(host: EmulatorHost, connection_string: str) -> list[str]:
    """Point every blob model's connection setting at ``connection_string``; returns the setting names."""
    names = sorted({m.source.connection for m in blob_models(host) if isinstance(m.source, BlobSource)})
    host.set_settings(dict.fromkeys(names, connection_string))
    return names


def seed(host: EmulatorHost, connection_string: str) -> list[str]:
    """Upload local files for blobs missing from storage; returns one line per blob model."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string)
    report = []
    for model in blob_models(host):
        source = model.source
        assert isinstance(source, BlobSource)
        blob = service.get_blob_client(source.container, source.blob)
        if blob.exists():
            report.append(f"{source.describe()}: already in Azurite")
            continue
        candidates = [host.app_dir / source.container / source.blob, host.app_dir / source.blob]
        local = next((path for path in candidates if path.is_file()), None)
        if local is None:
            shown = " or ".join(str(p.relative_to(host.app_dir)) for p in candidates)
            report.append(f"{source.describe()}: no local file to seed it from (looked for {shown})")
            continue
        with contextlib.suppress(ResourceExistsError):
            service.create_container(source.container)
        with local.open("rb") as stream:
            blob.upload_blob(stream)
        report.append(f"{source.describe()}: seeded from {Path(local).relative_to(host.app_dir)}")
    return report
