"""The catalog of models this worker process declares, by name: for the Open Inference Protocol's server
endpoints (readiness, unknown-model errors) and the OpenAPI document.

Each OnnxModel registers itself when its module is imported (re-importing replaces the entry);
register_blueprints adds the simple contract's route and auth level from the module's ``ROUTE`` and
``AUTH_LEVEL`` constants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import OnnxModel


@dataclass
class Entry:
    model: OnnxModel
    route: str | None = None
    auth_level: str = "function"


_entries: dict[str, Entry] = {}


def register(model: OnnxModel) -> None:
    _entries[model.name] = Entry(model)


def set_route(model: OnnxModel, route: str, auth_level: str) -> None:
    entry = _entries.setdefault(model.name, Entry(model))
    entry.route, entry.auth_level = route, auth_level


def clear() -> None:
    _entries.clear()


def models() -> dict[str, OnnxModel]:
    return {name: entry.model for name, entry in _entries.items()}


def entries() -> list[Entry]:
    return sorted(_entries.values(), key=lambda entry: entry.model.name)
