"""Entry point of the ``funnx`` console script (also ``python -m framework.cli.main``)."""

from __future__ import annotations

from . import app_commands, invoke_command, model_commands, openapi_command, serve_commands  # noqa: F401
from .group import cli


def main() -> None:
    cli(prog_name="funnx")


if __name__ == "__main__":
    main()
