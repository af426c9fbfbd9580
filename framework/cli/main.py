"""Entry point of the ``funnx`` console script (also ``python -m framework.cli.main``)."""

from __future__ import annotations

from . import app_commands, invoke_command, openapi_command, serve_commands  # noqa: F401  (registers the commands)
from .group import cli


def main() -> None:
    cli(prog_name="funnx")


if __name__ == "__main__":
    main()
