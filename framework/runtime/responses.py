"""JSON responses and the JSON error envelope shared by every handler.

Errors are always ``{"error": "<what went wrong and how to fix it>"}`` with a real status; a
503 carries ``Retry-After``. Unexpected exceptions are logged with their traceback and answered
with a generic 500 message, so no traceback ever reaches a response body.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import Any, ParamSpec

import azure.functions as func

from framework.errors import FunnxError, ModelUnavailable

from .jsoncodec import dumps

log = logging.getLogger("funnx.runtime")
P = ParamSpec("P")

JSON = "application/json"
#: On every prediction and metadata reply: which version of the model answered.
VERSION_HEADER = "X-Model-Version"


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(dumps(payload), status_code=status, headers=headers, mimetype=JSON)


def answers_errors(handler: Callable[P, func.HttpResponse]) -> Callable[P, func.HttpResponse]:
    """Wrap an HTTP handler so that whatever it raises becomes the JSON error response."""

    @functools.wraps(handler)
    def answered(*args: P.args, **kwargs: P.kwargs) -> func.HttpResponse:
        try:
            return handler(*args, **kwargs)
        except Exception as err:
            return error_response(err)

    return answered


def error_response(err: Exception) -> func.HttpResponse:
    """The JSON error for ``err``: its own message and status for a FunnxError, a generic 500 otherwise."""
    if not isinstance(err, FunnxError):
        log.error("funnx unexpected error", exc_info=err)
        return json_response({"error": "internal error while handling the request; see the function logs"}, 500)
    headers = None
    body = {"error": err.message}
    if isinstance(err, ModelUnavailable):
        headers = {"Retry-After": str(max(1, math.ceil(err.retry_after)))}
        body["state"] = err.state
    return json_response(body, err.status, headers)
