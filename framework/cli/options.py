"""Click options shared by commands.

``--functions f1 f2`` takes space-separated names the way ``func start`` does. A click option takes
one value, so the words after it are collected as arguments and joined to it (:func:`function_names`);
repeating the option and comma-separated names work too.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

APP_OPTION = click.option(
    "--app",
    "app_dir",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The Functions app folder.",
)


@contextlib.contextmanager
def one_shot_logging() -> Iterator[None]:
    """For commands that answer once: a failed model load reaches the user as the command's own
    one-line error, so the runtime's warning about it would only repeat it."""
    logger = logging.getLogger("funnx.runtime")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


def function_names(given: tuple[str, ...], following: tuple[str, ...]) -> tuple[str, ...]:
    """``--functions a b,c --functions d``: the names given with the option (repeated or comma-separated)
    and the words that follow it before the next option, as ``func start --functions`` takes them."""
    if following and not given:
        raise click.UsageError(f"unexpected argument {following[0]!r}: function names go after --functions")
    return tuple(part.strip() for item in (*given, *following) for part in item.split(",") if part.strip())


def app_models(app_dir: Path) -> list[Any]:
    """The app's models, read the way the worker indexes the app (its errors stop the command)."""
    from framework.emulator.inventory import read_app

    return list(read_app(app_dir).catalog.models().values())


def app_functions(app_dir: Path) -> list[Any]:
    """The app's functions for `funnx new`'s checks; an app that cannot be read yet gives none (with a
    warning: the emulator reports what is wrong when the app starts)."""
    from framework.emulator.inventory import read_app
    from framework.errors import FunnxError
    from framework.generator.existing import ExistingFunction

    try:
        found = read_app(app_dir)
    except FunnxError as err:
        click.echo(f"warning: {err.message}; names and routes are not checked against the app's", err=True)
        return []
    http = [ExistingFunction(found.file_of(f), f.name, f.route, frozenset(f.methods) if f.methods else None)
            for f in found.http]  # fmt: skip
    others = [ExistingFunction(None, name, None) for name in found.names if name not in {f.name for f in http}]
    return [*http, *others]
