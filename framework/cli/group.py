"""The ``funnx`` command group and its error handling.

Every error is one line on stderr: ``error: <what went wrong and how to fix it>``. Problems the
user can fix (a FunnxError) exit with 1, command-line usage errors with 2; no traceback is shown.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from framework import __version__
from framework.errors import FunnxError


class FunnxGroup(click.Group):
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


@click.group(cls=FunnxGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="funnx")
def cli() -> None:
    """Turn ONNX models into Azure Functions: scaffold an app, add one function per model, serve it locally."""
