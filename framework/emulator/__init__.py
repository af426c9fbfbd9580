"""Run a Functions app locally the way ``func start`` does: index it like the Python worker, route
like the host, serve it with uvicorn, or drive it in-process through :class:`TestClient`.

Both the socket server and the test client go through one dispatch core (:mod:`.dispatch`).
Names are imported on first use, so loading the pytest plugin (a submodule) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from framework.errors import EmulatorError

    from .client import ClientResponse, TestClient
    from .host import EmulatorHost

__all__ = ["ClientResponse", "EmulatorError", "EmulatorHost", "TestClient"]
_EXPORTS = {
    "ClientResponse": ".client",
    "TestClient": ".client",
    "EmulatorError": "framework.errors",
    "EmulatorHost": ".host",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
