"""Click options shared by commands, and one click extension.

``--functions f1 f2`` takes space-separated values the way ``func start`` does; click options take
one value each, so :class:`ListOption` also consumes the arguments that follow it up to the next
option. Repeating the option and comma-separated values work too.
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


class ListOption(click.Option):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["multiple"] = True
        super().__init__(*args, **kwargs)

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        for name in self.opts:
            option = parser._long_opt.get(name) or parser._short_opt.get(name)
            if option is None:
                continue
            store = option.process

            def process(value: Any, state: Any, store: Any = store) -> None:
                store(value, state)
                while state.rargs and not state.rargs[0].startswith("-"):
                    store(state.rargs.pop(0), state)

            option.process = process

    def type_cast_value(self, ctx: click.Context, value: Any) -> Any:
        values = super().type_cast_value(ctx, value) or ()
        return tuple(part.strip() for item in values for part in str(item).split(",") if part.strip())
