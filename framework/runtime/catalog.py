"""The app's models: one catalog per FunctionApp, built where the blueprints are registered.

A generated module declares its model, route and auth level once, on its blueprint
(:class:`ModelBlueprint`). :func:`framework.runtime.discovery.register_blueprints` registers each
module's blueprint with the app and records every ModelBlueprint here; the app-wide endpoints (the
Open Inference Protocol's server routes, the OpenAPI document, warmup) are handed this catalog. The
emulator and the CLI find it with :func:`catalog_of`. Nothing registers itself and nothing is read
back from module variables or source.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import azure.functions as func

if TYPE_CHECKING:
    from .model import OnnxModel


class ModelBlueprint(func.Blueprint):
    """A Blueprint serving one model: it carries the model, its route and its auth level."""

    def __init__(self, model: OnnxModel, *, route: str, auth_level: func.AuthLevel | str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.model = model
        self.model_route = route  # not `route`: that is the blueprint's decorator
        self.model_auth_level = str(getattr(auth_level, "value", auth_level)).lower()


@dataclass(frozen=True)
class Entry:
    model: OnnxModel
    route: str
    auth_level: str  # "function" | "anonymous" | "admin"
    module: str  # the module defining the blueprint, so its functions map to the model

    @property
    def public(self) -> bool:
        """Callable without a key: an anonymous route may describe it."""
        return self.auth_level == "anonymous"


class Catalog:
    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}

    def add(self, blueprint: ModelBlueprint, module: str) -> None:
        name = blueprint.model.name
        if name in self._entries:
            raise ValueError(f"two modules declare model '{name}' ({self._entries[name].module} and {module})")
        self._entries[name] = Entry(blueprint.model, blueprint.model_route, blueprint.model_auth_level, module)

    @property
    def entries(self) -> list[Entry]:
        return sorted(self._entries.values(), key=lambda entry: entry.model.name)

    def models(self) -> dict[str, OnnxModel]:
        return {entry.model.name: entry.model for entry in self.entries}

    def for_module(self, module: str) -> Entry | None:
        """The entry whose blueprint ``module`` defines (how a function finds its model)."""
        return next((entry for entry in self._entries.values() if entry.module == module), None)


_catalogs: weakref.WeakKeyDictionary[Any, Catalog] = weakref.WeakKeyDictionary()


def attach(app: func.FunctionApp, catalog: Catalog) -> None:
    _catalogs[app] = catalog


def catalog_of(app: func.FunctionRegister) -> Catalog:
    """The catalog register_blueprints built for ``app`` (empty for an app that never called it)."""
    return _catalogs.get(app) or Catalog()
