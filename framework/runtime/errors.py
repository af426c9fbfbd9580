"""The one error hierarchy of funnx.

Every error funnx raises on purpose is a :class:`FunnxError` whose message says what went wrong and
how to fix it. Runtime errors carry the HTTP status they map to; the CLI prints the message on one
line and exits non-zero. It lives in the runtime because the runtime depends on nothing else of ours.
"""

from __future__ import annotations


class FunnxError(Exception):
    """Base class: ``message`` is safe to show to a user (no secrets, no traceback)."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(FunnxError):
    """The request body or parameters are wrong; the client must change the request."""

    status = 400


class NotFound(FunnxError):
    """Unknown model, version or resource."""

    status = 404


class PayloadTooLarge(FunnxError):
    """The request body is over the configured limit."""

    status = 413


class ModelUnavailable(FunnxError):
    """The model cannot be served right now (loading, storage unreachable, blob missing, bad settings).

    Answered with 503 and ``Retry-After`` so clients and load balancers back off and retry; ``state``
    (loading or failed) goes into the JSON body next to the error.
    """

    status = 503

    def __init__(self, message: str, retry_after: float = 1.0, state: str = "failed") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.state = state


class InferenceFailed(FunnxError):
    """onnxruntime or a user hook failed on an otherwise valid request."""

    status = 500


class ConfigurationError(FunnxError):
    """A model declaration, source or setting is invalid (found before any request is served)."""
