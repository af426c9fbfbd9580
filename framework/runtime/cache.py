"""A disk cache of downloaded models, keyed by blob identity and ETag.

A worker restarted on the same instance finds the model here and skips the download when a HEAD
shows the blob's ETag unchanged. Files appear atomically: data goes to a temporary file in the
same folder, is flushed and verified, then renamed; a crash or a failed check never leaves a
partial or unverified model under a final name.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("funnx.runtime")

_UNSAFE = re.compile(r"[^A-Za-z0-9]")
#: What path_for names files: a pointer naming anything else is damaged.
_CACHED_NAME = re.compile(r"[0-9a-f]{32}-[A-Za-z0-9]{1,64}\.onnx")
#: A partial download untouched for this long belongs to a worker that died.
ABANDONED_AFTER_SECONDS = 15 * 60


class ModelCache:
    """Files named ``<hash of blob identity>-<etag>.onnx`` under ``root``.

    The folder must be this user's alone (created 0700, refused when another user owns it), and a
    cached file is used only when this user wrote it: whoever can put a file there chooses the
    model that runs.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _private(self) -> None:
        """Make sure the folder exists and only this user can write in it (raises PermissionError)."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = self.root.stat()
        if info.st_uid != os.getuid():
            raise PermissionError(errno.EACCES, f"it belongs to another user (uid {info.st_uid})", str(self.root))
        if info.st_mode & 0o077:
            self.root.chmod(0o700)  # ours, but open to others: close it

    @staticmethod
    def _key(identity: str) -> str:
        return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]

    def path_for(self, identity: str, etag: str) -> Path:
        # The identity is hashed and the ETag reduced to [A-Za-z0-9], so no blob name or header
        # value can steer the path outside the cache folder.
        safe_etag = _UNSAFE.sub("", etag)[:64] or "noetag"
        return self.root / f"{self._key(identity)}-{safe_etag}.onnx"

    def lookup(self, identity: str, etag: str, size: int) -> Path | None:
        """The cached file for this exact blob version, if present and of the expected size."""
        self._private()
        path = self.path_for(identity, etag)
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        if info.st_uid != os.getuid():
            log.warning("ignoring cached model %s: written by another user", path.name)
            return None
        if info.st_size == size:
            return path
        log.warning("discarding cached model %s: size differs from the blob's", path.name)
        path.unlink(missing_ok=True)
        return None

    def store(
        self,
        identity: str,
        etag: str,
        fill: Callable[[BinaryIO], object],
        verify: Callable[[Path], None],
    ) -> Path:
        """Write a new cache entry with ``fill``, check it with ``verify`` (raises to reject), publish it.

        Older versions of the same blob are removed afterwards, since Functions temp storage is
        small (0.5-0.8 GB on Consumption and Flex).
        """
        self._private()
        self._remove_abandoned_downloads(identity)
        final = self.path_for(identity, etag)
        partial = self.root / f".{final.name}.{uuid.uuid4().hex}.part"
        try:
            with partial.open("wb") as stream:
                fill(stream)
                stream.flush()
                os.fsync(stream.fileno())
            verify(partial)
            partial.replace(final)
        finally:
            partial.unlink(missing_ok=True)
        self._prune(identity, keep=final)
        return final

    def remember(self, source: str, path: Path) -> None:
        """Note that ``source`` (a declaration, before any storage call) last loaded ``path``.

        Best effort: a pointer that cannot be written only costs the next worker its head start.
        """
        pointer = self.root / f"{self._key(source)}.last"
        partial = pointer.with_name(f".{pointer.name}.{uuid.uuid4().hex}")
        try:
            partial.write_text(path.name, encoding="utf-8")
            partial.replace(pointer)
        except (OSError, ValueError):
            partial.unlink(missing_ok=True)

    def remembered(self, source: str) -> Path | None:
        """The file ``source`` last loaded, if it is still cached: a candidate to open while storage is asked.

        A damaged pointer is deleted (and None returned): it must never stand in the way of a load.
        """
        pointer = self.root / f"{self._key(source)}.last"
        try:
            self._private()
            name = pointer.read_text(encoding="utf-8").strip()
            path = self.root / name
            if _CACHED_NAME.fullmatch(name) and path.is_file() and path.stat().st_uid == os.getuid():
                return path
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            pass
        with contextlib.suppress(OSError):
            pointer.unlink(missing_ok=True)
        return None

    def _remove_abandoned_downloads(self, identity: str) -> None:
        """Partial files of this blob left by a worker killed mid-download (e.g. on a timeout).

        Only old ones: a younger file may belong to another worker process downloading right now.
        """
        cutoff = time.time() - ABANDONED_AFTER_SECONDS
        for partial in self.root.glob(f".{self._key(identity)}-*.part"):
            with contextlib.suppress(OSError):
                if partial.stat().st_mtime < cutoff:
                    partial.unlink()

    def _prune(self, identity: str, keep: Path) -> None:
        for old in self.root.glob(f"{self._key(identity)}-*.onnx"):
            if old != keep:
                try:
                    old.unlink()
                except OSError:  # another worker may still be mapping it; it goes next time
                    log.debug("could not remove old cached model %s", old.name)
