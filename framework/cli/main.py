"""Entry point of the ``funnx`` console script (also ``python -m framework.cli.main``)."""

from __future__ import annotations

from . import (  # noqa: F401  (each module registers its commands on the group)
    app_commands,
    convert_command,
    deploy_commands,
    invoke_command,
    model_commands,
    openapi_command,
    serve_commands,
)
from .group import cli


def main() -> None:
    cli(prog_name="funnx")


if __name__ == "__main__":
    main()
