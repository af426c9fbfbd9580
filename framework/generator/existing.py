"""The functions and models an app already has, as the tooling is told them (never read from source).

The CLI reads the app the way the worker indexes it (framework.emulator.inventory) and hands the
generator these plain descriptions: `funnx new` refuses a function name or a (route, method) pair
that is already taken (the worker would refuse the whole app over a duplicate name, and a duplicate
route makes one function unreachable); `funnx package` and `funnx infra bicep` look at the models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ExistingFunction:
    file: Path | None  # the module defining it
    name: str
    route: str | None  # None: not an HTTP function (its name is taken all the same)
    methods: frozenset[str] | None = None  # None: every method

    def conflicts(self, route: str, method: str) -> bool:
        if self.route is None:
            return False
        same_route = self.route.strip("/").lower() == route.strip("/").lower()
        return same_route and (self.methods is None or method in self.methods)
