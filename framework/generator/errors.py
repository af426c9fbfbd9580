"""The generator's error: a FunnxError raised before anything is written (or after a full roll-back)."""

from framework.runtime.errors import FunnxError


class GeneratorError(FunnxError):
    """Invalid input to a generator command; nothing was written."""
