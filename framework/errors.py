"""The one error hierarchy of funnx; imports nothing, so every layer (and the CLI's start-up) can use it.

Every error funnx raises on purpose is a :class:`FunnxError` whose message says what went wrong and
how to fix it. Errors raised while serving carry the HTTP status they map to; the CLI prints the
message on one line and exits non-zero. The deployed runtime ships this module with it.
"""

from __future__ import annotations


class FunnxError(Exception):
    """Base class: ``message`` is safe to show to a user (no secrets, no traceback)."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- serving (the runtime) ----------------------------------------------------------------------
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


class VersionRejected(ModelUnavailable):
    """onnxruntime refused this version of a blob: it is not downloaded again, only a new version is."""

    def __init__(self, message: str, identity: str) -> None:
        super().__init__(message)
        self.identity = identity


class InferenceFailed(FunnxError):
    """onnxruntime or a user hook failed on an otherwise valid request."""

    status = 500


class NotImplementedByFunnx(FunnxError):
    """A protocol extension funnx does not implement (shared memory, classification, BF16)."""

    status = 501


class ConfigurationError(FunnxError):
    """A model declaration, source or setting is invalid (found before any request is served)."""


# -- tooling (CLI, generator, emulator) ---------------------------------------------------------
class GeneratorError(FunnxError):
    """Invalid input to a generator command; nothing was written."""


class EmulatorError(FunnxError):
    """The app cannot be served as it is; the message names the file and the fix."""


class FunctionRefused(EmulatorError):
    """Azure would not run this function: the Python worker refuses to load it (then the host runs
    zero functions) or the host refuses its name or a binding's. ``cause`` is Azure's own wording."""

    def __init__(self, function: str, cause: str, by: str = "worker") -> None:
        outcome = "the host would skip it" if by == "host" else "the host would then run 0 functions"
        super().__init__(f"function '{function}' is refused by the Functions {by}: {cause} ({outcome})")
        self.function = function
        self.cause = cause
        self.by = by


class RegistryError(FunnxError):
    """A registry operation that cannot be done as asked (bad name, existing version, missing model)."""


class ConversionError(FunnxError):
    """``funnx convert`` cannot turn the file into an ONNX model as asked; nothing was written."""
