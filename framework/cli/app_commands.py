"""``funnx init`` and ``funnx new``: scaffold an app and add a function per model."""

from __future__ import annotations

from pathlib import Path

import click

from framework.generator import plan_init, plan_new, validate_new, write_files
from framework.generator.validate import DEFAULT_DELAY_MS
from framework.runtime.batching import worker_threads
from framework.runtime.session_options import EXECUTION_MODES, OPTIMIZATION_LEVELS
from framework.runtime.settings import THREAD_COUNT_SETTING

from .options import APP_OPTION, app_functions


@click.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite existing app files (local.settings.json is never overwritten).")
@click.option(
    "--telemetry", is_flag=True, help="List the OpenTelemetry exporters in requirements.txt (docs: Telemetry)."
)
def init(directory: Path, force: bool, telemetry: bool) -> None:
    """Create a Functions app in DIRECTORY (default: the current folder)."""
    files = plan_init(directory, force=force, telemetry=telemetry)
    write_files(files)
    for planned in files:
        click.echo(f"created {planned.path}")
    cd = "" if directory == Path() else f"cd {directory} && "
    click.echo(f"\nNext: {cd}funnx new NAME --model path/to/model.onnx && funnx start")


@click.command()
@click.argument("name")
@click.option(
    "--model",
    "-m",
    "source",
    required=True,
    metavar="SOURCE",
    help="A local .onnx file, az://<container>/<blob>, an https blob URL (a SAS token is moved to "
    "local.settings.json), or a registered NAME:VERSION / NAME:latest.",
)
@click.option(
    "--connection",
    metavar="SETTING",
    help="App setting holding the storage connection (default AzureWebJobsStorage), or the SAS token for an https URL.",
)
@click.option("--route", help="URL route under the route prefix (default: NAME).")
@click.option(
    "--auth-level",
    default="function",
    show_default=True,
    type=click.Choice(["function", "anonymous", "admin"], case_sensitive=False),
    help="Key required in Azure.",
)
@click.option(
    "--refresh-seconds", type=float, help="Check for a new model version this often, swapping it in without downtime."
)
@click.option("--warmup", is_flag=True, help="Load the model when the worker starts instead of on the first request.")
@click.option(
    "--intra-op-threads",
    type=int,
    help="onnxruntime threads per inference (default: all cores, or cores // PYTHON_THREADPOOL_THREAD_COUNT).",
)
@click.option("--inter-op-threads", type=int, help="onnxruntime threads across graph branches (default 1).")
@click.option("--execution-mode", type=click.Choice(EXECUTION_MODES), help="Sequential (default) or parallel.")
@click.option(
    "--graph-optimization", type=click.Choice(OPTIMIZATION_LEVELS), help="Graph optimisation level (default all)."
)
@click.option("--providers", help="Execution providers, comma-separated (default cpu; e.g. cuda,cpu).")
@click.option("--no-memory-arena", is_flag=True, help="Disable onnxruntime's CPU memory arena.")
@click.option("--optimized-model-cache", is_flag=True, help="Keep the optimised graph on disk for faster cold starts.")
@click.option(
    "--max-batch-size",
    type=int,
    metavar="N",
    help="Join concurrent requests into one run of up to N rows (adaptive batching; the model needs a batch axis).",
)
@click.option(
    "--max-batch-delay-ms",
    type=float,
    metavar="D",
    help=f"With --max-batch-size: how long a queued request may wait for others (default {DEFAULT_DELAY_MS:g} ms).",
)
@APP_OPTION
@click.option("--dry-run", is_flag=True, help="Print the files that would be written; write nothing.")
@click.option("--force", is_flag=True, help="Overwrite an existing function module.")
def new(
    name: str,
    source: str,
    connection: str | None,
    route: str | None,
    auth_level: str,
    refresh_seconds: float | None,
    warmup: bool,
    intra_op_threads: int | None,
    inter_op_threads: int | None,
    execution_mode: str | None,
    graph_optimization: str | None,
    providers: str | None,
    no_memory_arena: bool,
    optimized_model_cache: bool,
    max_batch_size: int | None,
    max_batch_delay_ms: float | None,
    app_dir: Path,
    dry_run: bool,
    force: bool,
) -> None:
    """Add an HTTP function serving the ONNX model SOURCE as NAME."""
    session = {
        "intra_op_threads": intra_op_threads,
        "inter_op_threads": inter_op_threads,
        "execution_mode": execution_mode,
        "graph_optimization": graph_optimization,
        "providers": providers.split(",") if providers else None,
        "memory_arena": False if no_memory_arena else None,
        "optimized_model_cache": True if optimized_model_cache else None,
    }
    fn = validate_new(
        app_dir, name, source, connection=connection, route=route, auth_level=auth_level, force=force,
        refresh_seconds=refresh_seconds, warmup=warmup, session=session, existing=app_functions(app_dir),
        max_batch_size=max_batch_size, max_batch_delay_ms=max_batch_delay_ms,
    )  # fmt: skip
    files = plan_new(fn)
    if dry_run:
        for planned in files:
            if planned.path.name == "local.settings.json":
                shown = "(local.settings.json with the new settings)"
            elif isinstance(planned.content, bytes):
                shown = f"({len(planned.content)} bytes)"
            else:
                shown = planned.content
            click.echo(f"--- {planned.path} (dry run, not written)\n{shown}")
        return
    write_files(files)
    click.echo(f"created {fn.module_path}")
    click.echo(f"created {fn.test_path} (run it with pytest)")
    click.echo(f"  POST/GET {fn.route} (auth level {fn.auth_level.lower()}), model {fn.source}")
    if fn.sas_token:
        click.echo(f"  SAS token saved in local.settings.json as {fn.connection} (git-ignored);")
        click.echo("  set the same app setting in Azure")
    elif fn.connection and "://" in fn.source:
        click.echo(
            f"  reads storage through app setting {fn.connection} (local.settings.json locally, app settings in Azure)"
        )
    if fn.max_batch_size:
        click.echo(
            f"  batching: up to {fn.max_batch_size} rows per run, waiting at most {fn.max_batch_delay_ms:g} ms; "
            f"{THREAD_COUNT_SETTING} is at least {worker_threads(fn.max_batch_size)} in local.settings.json "
            "(set it in Azure too: funnx infra bicep does)"
        )
    if fn.deploy_warning:
        click.echo(f"  warning: {fn.deploy_warning}; move it into the app or upload it to blob storage")
