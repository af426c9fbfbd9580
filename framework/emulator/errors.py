"""The emulator's error: the app cannot be started (bad settings, import failure, no functions)."""

from framework.runtime.errors import FunnxError


class EmulatorError(FunnxError):
    """The app cannot be served as it is; the message names the file and the fix."""
