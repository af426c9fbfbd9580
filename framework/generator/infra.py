"""``funnx infra bicep``: infrastructure for the app as Bicep (Flex Consumption, identity, storage).

App settings follow the Functions identity-connection convention the runtime reads
(``<CONN>__blobServiceUri`` / ``__credential`` / ``__clientId``): one entry set per connection the
app's models declare, plus the host's own ``AzureWebJobsStorage__*``. Every connection points at the
one storage account the template creates. Flex Consumption takes the runtime from
``functionAppConfig``, so settings it ignores (``FUNCTIONS_WORKER_RUNTIME``, ``WEBSITE_RUN_FROM_PACKAGE``
...) are never written. Values reach the template as Bicep string literals (the ``bicep`` filter);
a setting's value is a Bicep expression built here. The output depends only on the app and the
options, so it can be committed and reviewed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from framework.errors import GeneratorError
from framework.runtime import naming, registry
from framework.runtime.batching import worker_threads
from framework.runtime.model import OnnxModel
from framework.runtime.settings import THREAD_COUNT_SETTING
from framework.runtime.sources import DEFAULT_CONNECTION, BlobSource, RegistrySource

from . import python_versions
from .ci import APP_NAME
from .render import bicep_string, render
from .writer import PlannedFile

#: The most concurrent HTTP requests Flex Consumption sends one instance (perInstanceConcurrency).
FLEX_MAX_HTTP_CONCURRENCY = 1000


@dataclass(frozen=True)
class Setting:
    name: str
    value: str  # a Bicep expression (literals via bicep_string)


def model_connections(models: Sequence[OnnxModel]) -> tuple[list[str], list[str]]:
    """(connection settings of the blob and registry models, the containers their az:// sources use)."""
    connections, containers = set(), []
    for model in models:
        source = model.source
        if isinstance(source, BlobSource | RegistrySource):
            connections.add(source.connection)
        if isinstance(source, BlobSource):
            containers.append(source.container)
    return sorted(connections), containers


MANAGED_IDENTITY = bicep_string("managedidentity")


def app_settings(connections: list[str]) -> list[Setting]:
    """The app settings: the host's storage, each model connection, the registry, threads, telemetry."""
    settings = [
        Setting("AzureWebJobsStorage__blobServiceUri", "storage.properties.primaryEndpoints.blob"),
        Setting("AzureWebJobsStorage__queueServiceUri", "storage.properties.primaryEndpoints.queue"),
        Setting("AzureWebJobsStorage__tableServiceUri", "storage.properties.primaryEndpoints.table"),
        Setting("AzureWebJobsStorage__credential", MANAGED_IDENTITY),
        Setting("AzureWebJobsStorage__clientId", "identity.properties.clientId"),
    ]
    for connection in connections:
        if connection != DEFAULT_CONNECTION:  # the host's settings above serve models on that connection too
            settings += [
                Setting(f"{connection}__blobServiceUri", "storage.properties.primaryEndpoints.blob"),
                Setting(f"{connection}__credential", MANAGED_IDENTITY),
                Setting(f"{connection}__clientId", "identity.properties.clientId"),
            ]
    return [
        *settings,
        Setting(registry.CONTAINER_SETTING, "modelsContainerName"),
        Setting(THREAD_COUNT_SETTING, "string(pythonThreadCount)"),
        Setting("APPLICATIONINSIGHTS_CONNECTION_STRING", "insights.properties.ConnectionString"),
        Setting(
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "'ClientId=${identity.properties.clientId};Authorization=AAD'"
        ),
    ]


def plan_infra(
    app_dir: Path,
    app_name: str,
    models: Sequence[OnnxModel],
    *,
    python: str = python_versions.DEFAULT,
    models_container: str | None = None,
    force: bool = False,
) -> tuple[list[PlannedFile], list[str]]:
    """(infra/main.bicep and infra/main.parameters.json, warnings)."""
    connections, containers = model_connections(models)
    container = models_container or (Counter(containers).most_common(1)[0][0] if containers else "models")
    problems = []
    if not APP_NAME.match(app_name):
        problems.append(f"invalid app name {app_name!r}: 2-60 letters, digits and hyphens")
    if (wrong := python_versions.problem(python)) is not None:
        problems.append(wrong)
    if not naming.CONTAINER.match(container):
        problems.append(f"invalid container name {container!r}")
    files = [app_dir / "infra" / "main.bicep", app_dir / "infra" / "main.parameters.json"]
    existing = [str(f) for f in files if f.exists()]
    if existing and not force:
        problems.append(f"{', '.join(existing)} already exist; pass --force to overwrite")
    if problems:
        raise GeneratorError("; ".join(problems))
    others = sorted(set(containers) - {container})
    warnings = []
    if others:
        warnings.append(
            f"models in {', '.join(others)}: the template creates only the '{container}' container; "
            "create the others in the same storage account before uploading those models"
        )
    largest_batch = max((model.declared_batching[0] or 0 for model in models), default=0)
    threads = worker_threads(largest_batch) if largest_batch > 1 else None  # None: no model batches
    bicep = render(
        "infra/main.bicep.j2",
        largest_batch=largest_batch,
        batching_threads=threads,
        http_concurrency=min(threads, FLEX_MAX_HTTP_CONCURRENCY) if threads else None,
        max_http_concurrency=FLEX_MAX_HTTP_CONCURRENCY,
        python=python,
        python_versions=python_versions.SUPPORTED,
        models_container=container,
        settings=app_settings(connections),
    )
    parameters = render("infra/main.parameters.json.j2", app_name=app_name, python=python, models_container=container)
    return [PlannedFile(files[0], bicep), PlannedFile(files[1], parameters)], warnings
