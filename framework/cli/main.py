"""Entry point of the ``funnx`` console script (also ``python -m framework.cli.main``)."""

from __future__ import annotations

import click

from framework import __version__

from .group import FunnxGroup, Lazy

#: Every command: where it lives, and its summary (equal to the command's own; a test checks).
COMMANDS = {
    "init": Lazy("app_commands", "init", "Create a Functions app in DIRECTORY (default: the current folder)."),
    "new": Lazy("app_commands", "new", "Add an HTTP function serving the ONNX model SOURCE as NAME."),
    "convert": Lazy(
        "convert_command",
        "convert_command",
        "Convert a scikit-learn model (pickle or joblib) or a PyTorch module (torch.save or TorchScript) to ONNX.",
    ),
    "list": Lazy(
        "serve_commands", "list_functions", "List the app's HTTP functions as the Functions worker indexes them."
    ),
    "start": Lazy("serve_commands", "start", "Serve the app locally like `func start` (Ctrl+C to stop)."),
    "keys": Lazy(
        "serve_commands", "keys", "Show the function keys `funnx start --enforce-keys` checks (created on first use)."
    ),
    "invoke": Lazy(
        "invoke_command", "invoke_command", "Call function NAME in-process (no server) with the request in --data."
    ),
    "openapi": Lazy(
        "openapi_command",
        "openapi_command",
        "Write the OpenAPI 3 document of the app's models (loads each model to read its signature).",
    ),
    "model": Lazy(
        "model_commands", "model", "Register models in blob storage: immutable versions, a 'latest' pointer, manifests."
    ),
    "package": Lazy(
        "deploy_commands",
        "package",
        "Build a run-from-package zip: the app's files and Linux wheels of its requirements.txt.",
    ),
    "ci": Lazy(
        "deploy_commands", "ci", "Write a CI/CD pipeline: test, package, deploy (OpenID Connect sign-in), smoke test."
    ),
    "infra": Lazy("deploy_commands", "infra", "Write infrastructure as code for the app."),
    "publish": Lazy(
        "deploy_commands",
        "publish",
        "Deploy the package zip in one step (Azure CLI config-zip, or Core Tools --no-build).",
    ),
}


@click.group(cls=FunnxGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="funnx")
def cli() -> None:
    """Turn ONNX models into Azure Functions: scaffold an app, add one function per model, serve it locally."""


def main() -> None:
    cli(prog_name="funnx")


if __name__ == "__main__":
    main()
