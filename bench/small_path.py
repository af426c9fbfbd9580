"""``python -m bench.small_path``: only the batching section's small-model rows, in ~2 minutes.

The unbatched small-model path (MLP 784→256→10, simple JSON, c = 1, 8, 32) against the Python floor
and FastAPI inline, plus the client's ceiling: the same servers, client and rounds as
``python -m bench batching`` without the 25M-parameter model, for work on the emulator's
per-request cost. Prints the two tables; ``--write`` also puts the small-model table and the c=8
target into docs/benchmarks.md in place of the last full run's, saying where they come from.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import batching, batching_report, loadgen
from bench.servers import Server, running
from framework.runtime.naming import model_setting

REPO = Path(__file__).resolve().parents[1]
TIMES = "\N{MULTIPLICATION SIGN}"
TARGET = f"small MLP over HTTP ≥ 0.85{TIMES} the Python floor at c=8"  # bench/report.py's target row
TARGET_ROW = re.compile(rf"^\| {re.escape(TARGET)} \|.*$", re.MULTILINE)
SMALL_TABLE = re.compile(
    r"(\*\*Small model, unbatched, over loopback HTTP\*\*.*?\n\n)(\| c \| funnx req/s.*?\n)\n", re.S
)


class Section(batching.Section):
    """The small-model part, plus ``variants``: funnx as of other commits (name → framework/ folder)."""

    def __init__(self, plan: batching.Plan, scratch: Path, variants: dict[str, Path]) -> None:
        super().__init__(plan, scratch)
        self.variants = variants

    def small_servers(self) -> list[Server]:
        """The floor, FastAPI inline, funnx (this checkout) and the variants, on their own ports."""
        servers = super().small_servers()
        threads = {model_setting(batching.SMALL, "intra_op_threads"): str(batching.SMALL_INTRA_OP_THREADS)}
        for name, folder in self.variants.items():
            server = self.funnx(name, {**threads, "PYTHONPATH": str(folder)}, {"small": f"/api/{batching.SMALL}"})
            # -P: the working directory (this checkout) does not go before PYTHONPATH's framework/
            servers.append(dataclasses.replace(server, command=[sys.executable, "-P", *server.command[1:]]))
        return servers


def checkout(commit: str, scratch: Path) -> Path:
    """framework/ as of ``commit``, extracted under ``scratch`` (or ``commit`` itself: a folder holding one)."""
    if (Path(commit) / "framework").is_dir():
        return Path(commit)
    folder = scratch / commit
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit, "framework"], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def measure(rounds: int, seconds: float, variants: dict[str, str]) -> dict[str, Any]:
    plan = batching.Plan(rounds=rounds, seconds=seconds, mlserver="off", parts=frozenset({"client", "small"}))
    with tempfile.TemporaryDirectory(prefix="funnx-bench-") as scratch:
        folders = {name: checkout(commit, Path(scratch) / "variants") for name, commit in variants.items()}
        section = Section(plan, Path(scratch), folders)
        load = []
        for index in range(plan.rounds):
            load.append(os.getloadavg()[0])
            print(f"bench: small round {index + 1}/{plan.rounds} (load {load[-1]:.1f})", file=sys.stderr, flush=True)
            section.run_round()
        return {**section.results(), "load": [*load, os.getloadavg()[0]]}


def paired(reps: int, seconds: float, variants: dict[str, str], levels: tuple[int, ...]) -> dict[str, Any]:
    """Every server up at once, loaded in turn for ``seconds`` each, ``reps`` times per level: the
    servers share the machine's load of the moment, which rounds minutes apart do not."""
    plan = batching.Plan(seconds=seconds, rounds=reps, mlserver="off", parts=frozenset({"small"}), levels=levels)
    with tempfile.TemporaryDirectory(prefix="funnx-bench-") as scratch, contextlib.ExitStack() as stack:
        folders = {name: checkout(commit, Path(scratch) / "variants") for name, commit in variants.items()}
        section = Section(plan, Path(scratch), folders)
        servers = section.small_servers()
        groups = {server.name: stack.enter_context(running(server)) for server in servers}
        body = section.payloads["small"]
        load = [os.getloadavg()[0]]
        for level in levels:
            keys, points = [], []
            for _ in range(reps):
                for server in servers:
                    keys.append((server.name, level))
                    points.append({"url": server.url + server.paths["small"], "body": body.body,
                                   "headers": body.headers, "concurrency": level, "seconds": seconds,
                                   "warmup": 0.3, "server_group": groups[server.name]})  # fmt: skip
            for (name, at), sample in zip(keys, loadgen.measure(points), strict=True):
                section.samples[("small", name, "small", at)].append(sample)
            load.append(os.getloadavg()[0])
        return {**section.results(), "load": load, "paired": True}


def variant_table(results: dict[str, Any], names: list[str]) -> str:
    """Each funnx variant by throughput and by CPU against the floor of the same rounds."""
    rows = batching_report.Rows(results)
    lines = [
        "| variant | "
        + " | ".join(f"c={level} req/s (÷ floor; CPU µs/req, by CPU ÷ floor)" for level in rows.levels)
        + " |"
    ]
    lines.append("| --- |" + " ---: |" * len(rows.levels))
    for name in ["floor", "funnx", *names]:
        cells = []
        for level in rows.levels:
            ours, floor = rows.get("small", name, "small", level), rows.get("small", "floor", "small", level)
            if ours is None or floor is None:
                cells.append("—")
                continue
            cells.append(
                f"{ours['rps']:,.0f} ({ours['rps'] / floor['rps']:.2f}; {ours['server_cpu_us']:,.0f}, "
                f"{floor['server_cpu_us'] / ours['server_cpu_us']:.2f})"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def splice(markdown: str, results: dict[str, Any]) -> str:
    """docs/benchmarks.md with this run's small-model table and c=8 target row."""
    rows = batching_report.Rows(results)
    table = batching_report.small_table(rows)
    load = ", ".join(f"{value:.1f}" for value in results.get("load", []))
    day = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    plan = results["plan"]
    how = (
        f"every server up at once and loaded in turn, {plan['rounds']} times per level for {plan['seconds']:g} s"
        if results.get("paired")
        else f"{plan['rounds']} rounds"
    )
    note = (
        f"(From `python -m bench.small_path{' --paired' if results.get('paired') else ''}` on {day}, {how}; "
        f"load average {load} on {os.cpu_count()} cores. The client ceiling above is from the full run.)"
    )
    found = SMALL_TABLE.search(markdown)
    if found is None:
        raise SystemExit("error: docs/benchmarks.md has no small-model table to replace; run `python -m bench`")
    after = markdown[found.end() :]
    if after.startswith("(From `python -m bench.small_path`"):
        after = after.split("\n\n", 1)[1] if "\n\n" in after else ""
    markdown = markdown[: found.start(2)] + table + "\n\n" + note + "\n\n" + after
    ours, floor = rows.get("small", "funnx", "small", 8), rows.get("small", "floor", "small", 8)
    if ours and floor:
        ratio = ours["rps"] / floor["rps"]
        row = f"| {TARGET} | {ratio:.2f}{TIMES} | {'yes' if ratio >= 0.85 else '**no**'} |"
        markdown = TARGET_ROW.sub(row, markdown)
    return markdown


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.small_path", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--json", type=Path, help="also keep the raw results here")
    parser.add_argument(
        "--paired", action="store_true",
        help="start every server at once and load them in turn, --rounds times per level (no client ceiling)",
    )  # fmt: skip
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md's small-model table")
    parser.add_argument(
        "--variant", action="append", default=[], metavar="NAME=COMMIT",
        help="also measure funnx as of COMMIT (its framework/ from git, or a folder holding one), e.g. before=main",
    )  # fmt: skip
    options = parser.parse_args()
    variants = dict(item.split("=", 1) for item in options.variant)
    if options.paired:
        results = paired(options.rounds, options.seconds, variants, (1, 8, 32))
    else:
        results = measure(options.rounds, options.seconds, variants)
    rows = batching_report.Rows(results)
    print(batching_report.client_table(rows), "", batching_report.small_table(rows), sep="\n")
    if variants:
        print("", variant_table(results, list(variants)), sep="\n")
    print("load:", ", ".join(f"{value:.1f}" for value in results["load"]))
    if options.json:
        options.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    if options.write:
        path = REPO / "docs" / "benchmarks.md"
        path.write_text(splice(path.read_text(encoding="utf-8"), results), encoding="utf-8")
        print(f"bench: wrote the small-model table into {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
