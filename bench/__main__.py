"""``python -m bench``: run every benchmark section and write docs/benchmarks.md + docs/benchmarks.png.

Sections can be chosen (``python -m bench handler codecs``); the report then holds only those.
Cold start needs Node (it runs Azurite from node_modules, installed by scripts/setup.sh). The
batching section installs MLServer into its own .venv-mlserver the first time (``--no-mlserver``
leaves it out).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import batching, codecs, coldstart, e2e, handler, report, scale

REPO = Path(__file__).resolve().parents[1]
SECTIONS = ("handler", "codecs", "coldstart", "e2e", "scale", "batching")


def _coldstart(options: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="funnx-bench-") as folder:
        deployed = coldstart.deployed_app(Path(folder))
        return {"imports": coldstart.import_times(deployed), "loads": coldstart.model_loads(deployed)}


RUNNERS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "handler": lambda options: handler.run(budget_s=1.5),
    "codecs": lambda options: codecs.run(budget_s=0.4),
    "coldstart": _coldstart,
    "e2e": lambda options: e2e.run(seconds=3.0),
    "scale": lambda options: scale.run(),
    "batching": lambda options: batching.run(batching.Plan(mlserver="off" if options.no_mlserver else "auto")),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", metavar="SECTION", help=f"some of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="folder for benchmarks.md/png")
    parser.add_argument("--no-mlserver", action="store_true", help="batching: leave MLServer out (no .venv-mlserver)")
    options = parser.parse_args(argv)
    chosen = options.sections or list(SECTIONS)
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")
    started = time.perf_counter()
    results: dict[str, Any] = {}
    for name in chosen:
        print(f"bench: {name}…", file=sys.stderr, flush=True)
        section_started = time.perf_counter()
        results[name] = RUNNERS[name](options)
        print(f"bench: {name} done in {time.perf_counter() - section_started:.0f} s", file=sys.stderr, flush=True)
    options.out.mkdir(parents=True, exist_ok=True)
    markdown = report.markdown(results, time.perf_counter() - started)
    (options.out / "benchmarks.md").write_text(markdown, encoding="utf-8")
    if "e2e" in results:
        report.chart(results["e2e"], options.out / "benchmarks.png")
    print(markdown)
    print(f"bench: wrote {options.out / 'benchmarks.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
