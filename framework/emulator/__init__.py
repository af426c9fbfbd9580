"""Run a Functions app locally the way ``func start`` does: index it like the Python worker, route
like the host, serve it with uvicorn, or drive it in-process through :class:`TestClient`.

Both the socket server and the test client go through one dispatch core (:mod:`.dispatch`).
"""

from .client import ClientResponse, TestClient
from .errors import EmulatorError
from .host import EmulatorHost

__all__ = ["ClientResponse", "EmulatorError", "EmulatorHost", "TestClient"]
