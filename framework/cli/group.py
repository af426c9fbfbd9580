"""The ``funnx`` command group: one-line errors, and commands imported only when they run.

Every error is one line on stderr, ``error: <what went wrong and how to fix it>``. Problems the
user can fix (a FunnxError) exit with 1, command-line usage errors with 2; no traceback is shown.

Each command's module (and what it imports: the emulator, uvicorn, onnxruntime, jinja2) loads only
when that command runs; ``funnx --help`` lists the commands from a table of their one-line
summaries, which a test keeps equal to the commands' own help.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

from framework.errors import FunnxError


@dataclass(frozen=True)
class Lazy:
    """Where a command lives (``framework.cli.<module>.<attribute>``) and its one-line summary."""

    module: str
    attribute: str
    summary: str


class FunnxGroup(click.Group):
    def __init__(self, *args: Any, lazy: dict[str, Lazy] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            where = self.lazy[cmd_name]
            module = importlib.import_module(f"framework.cli.{where.module}")
            self.add_command(getattr(module, where.attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list without importing the commands (their summaries come from the table)."""
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        rows = [(name, textwrap.shorten(self.lazy[name].summary, limit, placeholder="...")) for name in self.lazy]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as err:
            where = err.ctx.command_path if err.ctx else "funnx"
            click.echo(f"error: {err.format_message()} (see '{where} --help')", err=True)
            sys.exit(2)
        except click.ClickException as err:
            click.echo(f"error: {err.format_message()}", err=True)
            sys.exit(err.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        except FunnxError as err:
            click.echo(f"error: {err.message}", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)
