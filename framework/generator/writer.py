"""Write a set of files all together or not at all.

Every file is first written to a temporary sibling; only when all are staged are they moved into
place, each by an atomic rename. If anything fails, files already moved are restored from backups
and new folders removed, so a failed `funnx init` or `funnx new` leaves the tree as it was.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from framework.errors import GeneratorError


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    content: str | bytes  # text is written as UTF-8 with \n line ends; bytes as they are


def write_files(files: Sequence[PlannedFile]) -> None:
    created_dirs: list[Path] = []
    staged: list[tuple[Path, Path]] = []
    moved: list[tuple[Path, Path | None]] = []  # (final path, backup of what it replaced)
    tag = uuid.uuid4().hex[:12]
    try:
        for planned in files:
            if planned.path.is_dir():
                raise IsADirectoryError(21, "a folder is in the way", str(planned.path))
            created_dirs += _make_parents(planned.path.parent)
            temporary = planned.path.with_name(f".{planned.path.name}.{tag}.tmp")
            staged.append((temporary, planned.path))
            if isinstance(planned.content, bytes):
                temporary.write_bytes(planned.content)
            else:
                temporary.write_text(planned.content, encoding="utf-8", newline="\n")
        for temporary, final in staged:
            backup = None
            if final.exists():
                backup = final.with_name(f".{final.name}.{tag}.bak")
                final.replace(backup)
            moved.append((final, backup))
            temporary.replace(final)
    except OSError as err:
        _roll_back(staged, moved, created_dirs)
        raise GeneratorError(
            f"could not write {err.filename or 'files'}: {err.strerror or err}; nothing was changed"
        ) from None
    for _, backup in moved:
        if backup is not None:
            backup.unlink(missing_ok=True)


def _make_parents(folder: Path) -> list[Path]:
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir()
    return list(reversed(missing))


def _roll_back(
    staged: list[tuple[Path, Path]], moved: list[tuple[Path, Path | None]], created_dirs: list[Path]
) -> None:
    for final, backup in reversed(moved):
        final.unlink(missing_ok=True)
        if backup is not None:
            backup.replace(final)
    for temporary, _ in staged:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
    for folder in reversed(created_dirs):
        with contextlib.suppress(OSError):
            folder.rmdir()
