"""``funnx model upload|list|show``: the model registry on blob storage (see runtime/registry.py)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from framework.emulator.appconfig import local_settings_applied
from framework.errors import RegistryError
from framework.generator.registry_store import RegistryStore
from framework.runtime import blobstore, registry
from framework.runtime.sources import DEFAULT_CONNECTION, check_setting_name

from . import progress
from .options import APP_OPTION


def storage_options(command: Any) -> Any:
    command = click.option(
        "--container", help="Registry container (default: FUNNX_REGISTRY_CONTAINER, else 'models')."
    )(command)
    command = click.option(
        "--connection",
        default=DEFAULT_CONNECTION,
        show_default=True,
        help="App setting with the storage connection (local.settings.json or the environment).",
    )(command)
    return APP_OPTION(command)


@contextlib.contextmanager
def registry_store(app_dir: Path, connection: str, container: str | None) -> Iterator[RegistryStore]:
    check_setting_name(connection)
    with local_settings_applied(app_dir):
        service = blobstore.service_client(connection, "registry", f"the registry in app setting {connection}")
        yield RegistryStore(service.get_container_client(registry.container_name(container)))


@click.group()
def model() -> None:
    """Register models in blob storage: immutable versions, a 'latest' pointer, manifests."""


def _tags(values: tuple[str, ...]) -> dict[str, str]:
    tags = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: use key=value", param_hint="--tag")
        tags[key] = value
    return tags


@model.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", "-n", required=True, help="Registry name of the model.")
@click.option("--version", "version", help="Version to create (default: the next number).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag (repeatable).")
@click.option("--description", default="", help="What this version is.")
@click.option("--no-latest", is_flag=True, help="Do not move the 'latest' pointer to this version.")
@storage_options
def upload(file: Path, name: str, version: str | None, tags: tuple[str, ...], description: str, no_latest: bool,
           app_dir: Path, connection: str, container: str | None) -> None:  # fmt: skip
    """Check FILE loads in onnxruntime, then store it as a new version of NAME."""
    parsed = _tags(tags)
    with registry_store(app_dir, connection, container) as store, progress.bar(f"uploading {file.name}") as shown:
        manifest = store.upload(file, name, version=version, tags=parsed, description=description,
                                move_latest=not no_latest, progress=shown)  # fmt: skip
    where = f"az://{registry.container_name(container)}/{registry.model_blob(manifest.name, manifest.version)}"
    digest = manifest.sha256[:12]
    click.echo(f"registered {manifest.name}:{manifest.version} ({manifest.size} bytes, sha256 {digest}…) at {where}")
    if not no_latest:
        click.echo(
            f"{manifest.name}:latest now points at {manifest.version}; use --model {manifest.name}:latest in funnx new"
        )


@model.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@storage_options
def list_models(as_json: bool, app_dir: Path, connection: str, container: str | None) -> None:
    """List registered models and versions."""
    with registry_store(app_dir, connection, container) as store:
        manifests = store.manifests()
        latest = {name: store.latest(name) for name in {m.name for m in manifests}}
    if as_json:
        click.echo(json.dumps([{**m.as_dict(), "latest": latest[m.name] == m.version} for m in manifests], indent=2))
        return
    if not manifests:
        click.echo("no registered models (funnx model upload FILE --name NAME)")
        return
    click.echo(f"{'NAME':<24} {'VERSION':<10} {'SIZE':>12}  {'SHA256':<14} {'UPLOADED':<26} TAGS")
    for m in manifests:
        marker = f"{m.version} *" if latest[m.name] == m.version else m.version
        tags = ",".join(f"{k}={v}" for k, v in m.tags.items())
        click.echo(f"{m.name:<24} {marker:<10} {m.size:>12}  {m.sha256[:12]:<14} {m.uploaded_at:<26} {tags}")
    click.echo("(* = latest)")


@model.command()
@click.argument("reference", metavar="NAME[:VERSION]")
@storage_options
def show(reference: str, app_dir: Path, connection: str, container: str | None) -> None:
    """Show one version's manifest (default: latest)."""
    name, _, version = reference.partition(":")
    with registry_store(app_dir, connection, container) as store:
        manifest = store.manifest(name, version or registry.LATEST)
        latest = store.latest(name)
    click.echo(json.dumps({**manifest.as_dict(), "latest": latest == manifest.version}, indent=2))


__all__ = ["RegistryError", "model"]
