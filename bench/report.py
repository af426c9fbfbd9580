"""Turn the sections' results into docs/benchmarks.md (tables) and docs/benchmarks.png (e2e chart)."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import batching_report, codecs
from bench.e2e import FUNNX_VARIANTS
from bench.timing import fmt_us

TARGETS = """| target | measured | met |
|---|---:|:---:|
"""


def _table(header: list[str], rows: list[list[str]]) -> str:
    aligns = ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(aligns) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def environment() -> str:
    import numpy
    import onnxruntime

    try:
        import orjson

        json_library = f"orjson {orjson.__version__}"
    except ImportError:
        json_library = "stdlib json (orjson not installed)"
    return (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, {os.cpu_count()} cores; "
        f"onnxruntime {onnxruntime.__version__}, numpy {numpy.__version__}, {json_library}."
    )


def handler_table(rows: list[dict[str, Any]]) -> str:
    return _table(
        [
            "model",
            "contract",
            "funnx median µs",
            "funnx p90 µs",
            "floor median µs",
            "floor p90 µs",
            "overhead µs",
            "ratio",
        ],
        [
            [
                row["model"],
                row["contract"],
                fmt_us(row["funnx_median_us"]),
                fmt_us(row["funnx_p90_us"]),
                fmt_us(row["floor_median_us"]),
                fmt_us(row["floor_p90_us"]),
                fmt_us(row["overhead_us"]),
                f"{row['ratio']:.2f}",
            ]
            for row in rows
        ],
    )


def coldstart_tables(imports: dict[str, float], loads: dict[str, Any]) -> str:
    first, restart = loads["first_steps"], loads["restart_steps"]
    import_rows = [
        [
            "import function_app (generated, packaged)",
            f"{imports['generated_app_ms']:.0f}",
            f"{imports['generated_app_ms'] / imports['baseline_ms']:.2f}",
        ],
        ["baseline: import azure.functions, numpy, onnxruntime", f"{imports['baseline_ms']:.0f}", "1.00"],
    ]
    steps = ", ".join(f"{k.removesuffix('_ms')} {v:.0f}" for k, v in first.items() if v)
    restart_steps = ", ".join(f"{k.removesuffix('_ms')} {v:.0f}" for k, v in restart.items() if v)
    load_rows = [
        [
            "funnx first load (HEAD, streamed download, sha256, session)",
            f"{loads['first_ms']:.0f}",
            f"{loads['first_ms'] / loads['naive_ms']:.2f}",
            steps,
        ],
        [
            "funnx restart with a valid cache",
            f"{loads['restart_ms']:.0f}",
            f"{loads['restart_ms'] / loads['naive_ms']:.2f}",
            restart_steps,
        ],
        ["baseline: download_blob().readall() + InferenceSession(bytes)", f"{loads['naive_ms']:.0f}", "1.00", ""],
    ]
    return (
        _table(["import (fresh interpreter, median)", "ms", "ratio"], import_rows)
        + f"\n\nModel: {loads['model_mb']:.0f} MB MLP in Azurite over loopback, each load in a fresh interpreter "
        "(median of the runs).\n\n"
        + _table(["model load", "median ms", "ratio to naive", "steps (ms)"], load_rows)
        + f"\n\nFirst load ÷ cached restart: **{loads['first_ms'] / loads['restart_ms']:.1f}×**."
    )


def coldstart_section(results: dict[str, Any]) -> str:
    return coldstart_tables(results["imports"], results["loads"])


def e2e_table(rows: list[dict[str, Any]]) -> str:
    names = [*FUNNX_VARIANTS, "fastapi"]
    header = ["payload", "c"] + [f"{name} rps" for name in names]
    header += [f"{name} p50 / p90 ms" for name in names] + [f"{name} ÷ fastapi" for name in FUNNX_VARIANTS]
    table = []
    for row in rows:
        cells = [row["payload"], str(row["concurrency"])]
        cells += [f"{row[name]['rps']:,.0f}" for name in names]
        cells += [f"{row[name]['median_ms']:.2f} / {row[name]['p90_ms']:.2f}" for name in names]
        cells += [f"**{row[f'{name}_ratio']:.2f}**" for name in FUNNX_VARIANTS]
        table.append(cells)
    errors = sum(row[name]["errors"] for row in rows for name in names)
    return _table(header, table) + f"\n\nNon-200 answers during the runs: {errors}."


def scale_table(rows: list[dict[str, Any]]) -> str:
    return _table(
        ["models", "functions indexed", "index s", "RSS after index MB", "RSS after one call MB"],
        [
            [
                str(row["models"]),
                str(row["functions"]),
                f"{row['index_s']:.2f}",
                f"{row['rss_index_mb']:.0f}",
                f"{row['rss_after_call_mb']:.0f}",
            ]
            for row in rows
        ],
    )


def _batching_checks(rows: batching_report.Rows) -> list[tuple[str, str, bool]]:
    checks = []
    ours, floor = rows.get("small", "funnx", "small", 8), rows.get("small", "floor", "small", 8)
    if ours and floor:
        ratio = ours["rps"] / floor["rps"]
        checks.append(("small MLP over HTTP ≥ 0.85× the Python floor at c=8", f"{ratio:.2f}×", ratio >= 0.85))
    high = rows.levels[-1]
    ratios = {}
    for payload in rows.payloads("large", "funnx"):
        plain, batched = (rows.get("large", server, payload, high) for server in ("funnx", "funnx batched"))
        if plain and batched:
            ratios[batching_report.PAYLOADS[payload]] = batched["rps"] / plain["rps"]
    if ratios:
        worst = min(ratios.values())
        each = ", ".join(f"{name} {value:.2f}×" for name, value in ratios.items())
        label = f"batched ≥ 4× unbatched at c={high} (25M MLP, every payload: the lowest)"
        checks.append((label, f"{worst:.2f}× ({each})", worst >= 4))
    theirs, ours = (rows.get("large", server, "oip-json", high) for server in ("MLServer", "funnx batched"))
    if theirs and ours:
        ratio = ours["rps"] / theirs["rps"]
        checks.append((f"batched ≥ 3× MLServer at c={high} (OIP JSON)", f"{ratio:.2f}×", ratio >= 3))
    small, large = batching_report.HTTPX_SMALL_LEVEL, batching_report.HTTPX_LARGE_LEVEL
    floor, ours = (rows.get("httpx", server, "small", small) for server in ("floor", "funnx"))
    if floor and ours:
        ratio = ours["rps"] / floor["rps"]
        label = f"small MLP over HTTP ≥ 0.85× the Python floor at c={small}, httpx client (the issue's)"
        checks.append((label, f"{ratio:.2f}×", ratio >= 0.85))
    theirs, ours = (rows.get("httpx", server, "oip-json", large) for server in ("MLServer", "funnx batched"))
    if theirs and ours:
        ratio = ours["rps"] / theirs["rps"]
        label = f"batched ≥ 3× MLServer at c={large} (OIP JSON), httpx client (the issue's)"
        checks.append((label, f"{ratio:.2f}×", ratio >= 3))
    return checks


def targets(results: dict[str, Any]) -> str:
    """The issue's targets against what this run measured."""
    checks: list[tuple[str, str, bool]] = []
    if "handler" in results:
        fixed = [row for row in results["handler"] if row["floor_median_us"] < 1000]
        worst = max(row["overhead_us"] for row in fixed)
        label = "handler overhead ≤ 25 µs above the floor (floors under 1 ms)"
        checks.append((label, f"worst {worst:.1f} µs", worst <= 25))
        for row in results["handler"]:
            if row not in fixed:
                label = f"{row['model']} {row['contract']}: floor {row['floor_median_us'] / 1000:.1f} ms"
                checks.append((label, f"+{row['overhead_us']:.0f} µs ({row['ratio']:.3f}×)", row["ratio"] < 1.02))
    if "codecs" in results:
        image = next(r for r in results["codecs"] if r["shape"] == "1x3x224x224" and r["path"] == "funnx OIP binary")
        speedup = image["speedup_vs_stdlib"]
        checks.append(("binary ≥ 100× stdlib JSON on 1×3×224×224", f"{speedup:,.0f}×", speedup >= 100))
    if "e2e" in results:
        for row in results["e2e"]:
            if row["concurrency"] == 8:
                ratio = row["funnx_ratio"]
                label = f"e2e ≥ 1.0× FastAPI at c=8 ({row['payload']})"
                checks.append((label, f"{ratio:.2f}×", ratio >= 1.0))
    if "batching" in results:
        checks += _batching_checks(batching_report.Rows(results["batching"]))
    if "coldstart" in results:
        loads = results["coldstart"]["loads"]
        ratio = loads["first_ms"] / loads["restart_ms"]
        checks.append(("cached restart ≥ 5× faster than first download", f"{ratio:.1f}×", ratio >= 5))
    if "scale" in results:
        hundred = [row for row in results["scale"] if row["models"] == 100]
        if hundred:
            seconds = hundred[0]["index_s"]
            checks.append(("100 model functions index in < 2 s", f"{seconds:.2f} s", seconds < 2))
    return TARGETS + "\n".join(f"| {label} | {value} | {'yes' if ok else '**no**'} |" for label, value, ok in checks)


def markdown(results: dict[str, Any], elapsed_s: float) -> str:
    parts = [
        "# funnx benchmarks",
        "",
        "Written by `python -m bench` (see docs/performance.md). Every figure is compared with a baseline "
        "measured in the same run; medians and p90 over repeated runs. " + environment() + f" Took {elapsed_s:.0f} s.",
        "",
        "## Targets",
        "",
        targets(results),
    ]
    sections: dict[str, tuple[str, str, Callable[[Any], str]]] = {
        "handler": (
            "Handler overhead",
            "A generated function called in-process with a `func.HttpRequest` against "
            "the floor: the fastest JSON codec (orjson) or `np.frombuffer` + `session.run` + encode, "
            "sampled alternately.",
            handler_table,
        ),
        "codecs": (
            "Codecs",
            "Decode and encode of one float32 tensor; the floor is `np.frombuffer` / `tobytes`.",
            codecs.markdown,
        ),
        "coldstart": (
            "Cold start",
            "The app unzipped from `funnx package`, run with only its own `.python_packages` (`python -I -S`).",
            coldstart_section,
        ),
        "e2e": (
            "End to end over loopback HTTP",
            "MLP 784→256→10. `funnx start` (default threads, and "
            "`PYTHON_THREADPOOL_THREAD_COUNT` = cores as the generated Bicep sets) against FastAPI + uvicorn "
            "+ onnxruntime running `session.run` off the event loop (a `def` endpoint / `run_in_threadpool`, as "
            "FastAPI advises for blocking calls). All servers run at once and are loaded back to back by "
            'aiohttp clients on keep-alive connections. JSON: `{"data": …}`; binary: raw float32 bytes '
            "(OIP `Inference-Header-Content-Length: 0`).",
            e2e_table,
        ),
        "batching": (
            "Adaptive batching",
            "`python -m bench batching`: a 25M-parameter model unbatched and batched (over HTTP, in-process, "
            "against MLServer's adaptive batching), and the unbatched small-model path against the Python floor.",
            batching_report.markdown,
        ),
        "scale": (
            "Scale",
            "Apps with 1, 10 and 100 generated model functions, each indexed in a fresh process "
            "(3 functions per model: predict, metadata, OIP; plus the app-wide OIP server and OpenAPI routes).",
            scale_table,
        ),
    }
    for key, (title, intro, render) in sections.items():
        if key in results:
            parts += ["", f"## {title}", "", intro, "", render(results[key])]
    if "e2e" in results:
        parts += ["", "![End-to-end throughput](benchmarks.png)"]
    return "\n".join(parts) + "\n"


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    """Grouped bars: requests/s per payload and concurrency, funnx variants beside FastAPI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [*FUNNX_VARIANTS, "fastapi"]
    labels = [f"{row['payload']}\nc={row['concurrency']}" for row in rows]
    width = 0.8 / len(names)
    figure, axes = plt.subplots(figsize=(9, 4.5), dpi=100)
    for index, name in enumerate(names):
        positions = [i + (index - (len(names) - 1) / 2) * width for i in range(len(rows))]
        axes.bar(positions, [row[name]["rps"] for row in rows], width, label=name)
    axes.set_xticks(range(len(rows)), labels)
    axes.set_ylabel("requests / s (higher is better)")
    axes.set_title("MLP 784→256→10 over loopback HTTP: funnx emulator vs FastAPI + uvicorn")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)
