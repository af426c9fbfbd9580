"""The batching section of docs/benchmarks.md: six tables and whether the batching settings took effect."""

from __future__ import annotations

import os
from typing import Any

PAYLOADS = {"binary": "OIP binary", "json": "simple JSON", "oip-json": "OIP JSON"}
#: The concurrency of the issue's two httpx baselines: the small model at c=8, MLServer at c=32.
HTTPX_SMALL_LEVEL, HTTPX_LARGE_LEVEL = 8, 32


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


class Rows:
    """Look-ups into the section's rows by (group, server, payload, concurrency)."""

    def __init__(self, results: dict[str, Any]) -> None:
        self.levels: list[int] = results["plan"]["levels"]
        self._rows = {(r["group"], r["server"], r["payload"], r["concurrency"]): r for r in results["rows"]}

    def get(self, group: str, server: str, payload: str, level: int) -> dict[str, Any] | None:
        return self._rows.get((group, server, payload, level))

    def has(self, group: str, server: str) -> bool:
        return any(key[:2] == (group, server) for key in self._rows)

    def payloads(self, group: str, server: str) -> list[str]:
        return list(dict.fromkeys(key[2] for key in self._rows if key[:2] == (group, server)))


def rps(row: dict[str, Any] | None) -> str:
    """Median requests/s over the rounds, with the rounds' spread when there were several."""
    if row is None:
        return "—"
    spread = (row["rps_max"] - row["rps_min"]) / 2 / row["rps"] * 100 if row["rps"] else 0.0
    return f"{row['rps']:,.0f}" + (f" ±{spread:.0f}%" if row["rps_max"] != row["rps_min"] else "")


def latency(row: dict[str, Any] | None) -> str:
    return "—" if row is None else f"{row['p50_ms']:.2f} / {row['p90_ms']:.2f}"


def ratio(ours: dict[str, Any] | None, theirs: dict[str, Any] | None) -> str:
    return "—" if ours is None or theirs is None or not theirs["rps"] else f"**{ours['rps'] / theirs['rps']:.2f}**"


def cost(*rows: dict[str, Any] | None) -> str:
    """Server CPU µs per request, one figure per row."""
    return " / ".join(f"{row['server_cpu_us']:,.0f}" if row and row.get("server_cpu_us") else "—" for row in rows)


def cost_ratio(ours: dict[str, Any] | None, theirs: dict[str, Any] | None) -> str:
    """Their CPU per request ÷ ours: the throughput ratio if both were bound by the same CPU."""
    if not ours or not theirs or not ours.get("server_cpu_us") or not theirs.get("server_cpu_us"):
        return "—"
    return f"{theirs['server_cpu_us'] / ours['server_cpu_us']:.2f}"


def cpu(*rows: dict[str, Any] | None) -> str:
    shares = [row["client_cpu"] for row in rows if row is not None and "client_cpu" in row]
    return f"{max(shares) * 100:.0f}%" if shares else "—"


def client_table(rows: Rows) -> str:
    body = []
    for level in rows.levels:
        row = rows.get("client", "trivial server", "small", level)
        body.append([str(level), rps(row), latency(row), cpu(row)])
    return _table(["c", "requests/s", "p50 / p90 ms", "client CPU"], body)


def large_table(rows: Rows, group: str) -> str:
    body = []
    for payload in rows.payloads(group, "funnx"):
        for level in rows.levels:
            plain, batched = rows.get(group, "funnx", payload, level), rows.get(group, "funnx batched", payload, level)
            cells = [PAYLOADS[payload], str(level), rps(plain), latency(plain), rps(batched), latency(batched)]
            cells += [ratio(batched, plain), cost(plain, batched)]
            body.append(cells + ([cpu(plain, batched)] if group == "large" else []))
    header = ["payload", "c", "unbatched req/s", "p50 / p90 ms", "batched req/s", "p50 / p90 ms", "batched ÷ unbatched"]
    header.append("server CPU µs/req unbatched / batched")
    return _table(header + (["client CPU"] if group == "large" else []), body)


def mlserver_table(rows: Rows) -> str:
    body = []
    for level in rows.levels:
        theirs = rows.get("large", "MLServer", "oip-json", level)
        ours, batched = (
            rows.get("large", "funnx", "oip-json", level),
            rows.get("large", "funnx batched", "oip-json", level),
        )
        binary = rows.get("large", "funnx batched", "binary", level)
        body.append([
            str(level), rps(theirs), latency(theirs), rps(ours), ratio(ours, theirs), rps(batched),
            ratio(batched, theirs), ratio(binary, theirs), cost(theirs, ours, batched),
        ])  # fmt: skip
    header = ["c", "MLServer req/s", "p50 / p90 ms", "funnx req/s", "funnx ÷ MLServer", "funnx batched req/s"]
    header += ["funnx batched ÷ MLServer", "funnx batched binary ÷ MLServer"]
    return _table([*header, "server CPU µs/req MLServer / funnx / funnx batched"], body)


def small_table(rows: Rows) -> str:
    body = []
    for level in rows.levels:
        ours = rows.get("small", "funnx", "small", level)
        floor, fastapi = rows.get("small", "floor", "small", level), rows.get("small", "FastAPI inline", "small", level)
        p50s = " / ".join(f"{row['p50_ms']:.2f}" if row else "—" for row in (ours, floor, fastapi))
        body.append([
            str(level), rps(ours), rps(floor), rps(fastapi), ratio(ours, floor), ratio(ours, fastapi), p50s,
            cost(ours, floor, fastapi), cost_ratio(ours, floor), cost_ratio(ours, fastapi), cpu(ours, floor, fastapi),
        ])  # fmt: skip
    header = ["c", "funnx req/s", "floor req/s", "FastAPI inline req/s", "funnx ÷ floor", "funnx ÷ FastAPI inline"]
    header += ["p50 ms funnx / floor / FastAPI", "server CPU µs/req funnx / floor / FastAPI"]
    return _table([*header, "by CPU: funnx ÷ floor", "by CPU: funnx ÷ FastAPI", "client CPU"], body)


def httpx_table(rows: Rows, large: str) -> str:
    """The issue's two baselines measured again with its client: one row per server, each with its ratio
    to the first server measured (the floor; MLServer, or funnx unbatched when MLServer was left out)."""
    body = []
    for payload, level, servers in (
        ("small", HTTPX_SMALL_LEVEL, ("floor", "FastAPI inline", "funnx")),
        ("oip-json", HTTPX_LARGE_LEVEL, ("MLServer", "funnx", "funnx batched")),
    ):
        measured = [(server, row) for server in servers if (row := rows.get("httpx", server, payload, level))]
        base = measured[0][1] if measured else None  # MLServer, when it was measured
        for server, row in measured:
            model = "MLP 784→256→10, simple JSON" if payload == "small" else f"{large}, OIP JSON"
            body.append([model, str(level), server, rps(row), latency(row), ratio(row, base), cost(row), cpu(row)])
    header = ["model", "c", "server", "requests/s", "p50 / p90 ms", "÷ first server", "server CPU µs/req"]
    return _table([*header, "client CPU"], body)


def _quotient(ours: dict[str, Any] | None, theirs: dict[str, Any] | None, key: str) -> float | None:
    return ours[key] / theirs[key] if ours and theirs and theirs[key] else None


def _verdict(value: float | None, target: str) -> str:
    if value is None:
        return "—"
    met = value >= float(target[1:]) if target.startswith("≥") else value < float(target[1:])
    return f"{value:.2f} ({'met' if met else 'missed'})"


def targets_table(rows: Rows) -> str:
    """The issue's targets as ratios from this run: batched ÷ unbatched throughput at the highest
    concurrency (≥ 4), p50 there (< 1), p50 at c=1 (< 1.10), and funnx batched ÷ MLServer (≥ 3)."""
    low, high = rows.levels[0], rows.levels[-1]
    body = []
    for group, where in (("large", "HTTP"), ("in-process", "in-process")):
        for payload in rows.payloads(group, "funnx"):
            plain_high, plain_low = (rows.get(group, "funnx", payload, level) for level in (high, low))
            batched_high, batched_low = (rows.get(group, "funnx batched", payload, level) for level in (high, low))
            body.append([
                f"{where}, {PAYLOADS[payload]}",
                _verdict(_quotient(batched_high, plain_high, "rps"), "≥4"),
                _verdict(_quotient(batched_high, plain_high, "p50_ms"), "<1"),
                _verdict(_quotient(batched_low, plain_low, "p50_ms"), "<1.10"),
                cost(plain_high, batched_high),
            ])  # fmt: skip
    theirs = rows.get("large", "MLServer", "oip-json", high)
    for payload in ("oip-json", "binary") if theirs else ():
        ours = rows.get("large", "funnx batched", payload, high)
        label = f"HTTP, {PAYLOADS[payload]} ÷ MLServer (OIP JSON), throughput ≥ 3"
        body.append([label, _verdict(_quotient(ours, theirs, "rps"), "≥3"), "", "", cost(theirs, ours)])
    header = [f"path (c={low} / c={high})", f"throughput ÷ unbatched at c={high} (≥ 4)"]
    header += [f"p50 ÷ unbatched at c={high} (< 1)", f"p50 ÷ unbatched at c={low} (< 1.10)", "server CPU µs/req"]
    return _table(header, body)


def markdown(results: dict[str, Any]) -> str:
    rows = Rows(results)
    model, plan, mlserver = results["model"], results["plan"], results["mlserver"]
    settings = ", ".join(f"`{name}={value}`" for name, value in results["settings"].items())
    status = "\n".join(f"- {where}: {sentence}" for where, (_, sentence) in results["batching"].items())
    if "version" in mlserver:
        against = (
            f"MLServer {mlserver['version']} (its own virtualenv; adaptive batching `max_batch_size` 32, "
            "`max_batch_time` 0.002 s; one parallel inference worker, its default; an onnxruntime `MLModel` "
            "with MLServer's NumpyCodec, bench/mlserver_runtime.py) answering OIP JSON."
        )
    else:
        against = f"MLServer {mlserver.get('skipped', 'left out')}."
    parts = [
        f"Every server runs alone and is loaded by one client (aiohttp on uvloop, keep-alive connections, in its own "
        f"process; no Accept-Encoding). {plan['rounds']} rounds of {plan['seconds']:g} s per point after a warm-up, "
        "each server started afresh per round: requests/s is the median over rounds (± half the rounds' range), "
        "latency the median of the rounds' p50 and p90. Server CPU µs/req is the server's whole process group "
        "(all threads, onnxruntime's included) during the window, per request: it moves much less than "
        'throughput when other work shares the machine. "By CPU" ratios divide the two servers\' CPU per request. '
        f"Machine load (1-minute load average on {os.cpu_count()} cores) at each round's start and at the end: "
        + ", ".join(f"{value:.1f}" for value in results.get("load", []))
        + ".",
        "",
        "**The batching targets**, ratios from this run (server CPU µs per request: unbatched / batched at the "
        "highest concurrency; for the MLServer rows MLServer / funnx batched):",
        "",
        targets_table(rows),
        "",
        "**Client ceiling** (the same client against a server that answers a constant): rows well below it are "
        "not limited by the client; client CPU near 100% would mean they are.",
        "",
        client_table(rows),
        "",
        f"**Large model over loopback HTTP**: MLP {'→'.join(map(str, model['sizes']))} "
        f"({model['parameters'] / 1e6:.1f}M parameters, {model['mb']:.0f} MB), `funnx start`, one request = one row. "
        f"Batched = the same app with {settings}. OIP binary is tritonclient's request body.",
        "",
        "Batching settings, as the model's metadata reports them after the run:",
        "",
        status,
        "",
        large_table(rows, "large"),
        "",
        "**Against MLServer**, OIP JSON: " + against,
        "",
        mlserver_table(rows) if rows.has("large", "MLServer") else "(not measured)",
        "",
        "**In-process** (the worker's path, no HTTP): the generated function called from c threads, a fresh "
        "`func.HttpRequest` per call.",
        "",
        large_table(rows, "in-process"),
        "",
        "**Small model, unbatched, over loopback HTTP**: MLP 784→256→10, simple JSON. Floor = bare ASGI on uvicorn "
        "+ orjson + `session.run` inline (bench/floor_server.py); FastAPI inline = an `async def` endpoint running "
        "`session.run` on the loop (bench/fastapi_baseline.py). All three run onnxruntime with one intra-op "
        "thread (funnx: `FUNNX_MLP_INTRA_OP_THREADS=1`): with the default, every core and spinning between runs, "
        "the session's threads fight the client and the interpreter for the 2 cores and every server's "
        "throughput roughly halves, hiding the Python serving path measured here.",
        "",
        small_table(rows),
    ]
    if rows.has("httpx", "funnx"):
        parts += [
            "",
            "**With the issue's client** (httpx `AsyncClient`, keep-alive pool of c connections, same rounds): "
            "the issue's baselines (small model: funnx 0.70\N{MULTIPLICATION SIGN} the floor at c=8; "
            "MLServer 178 to 186 req/s and funnx unbatched 184 to 188 at c=32) were measured with it. It needs "
            "several times aiohttp's CPU per request, so at client CPU near 100% these rows measure the client "
            "as much as the server: compare them with the issue's figures, and the servers with the aiohttp "
            "tables above.",
            "",
            httpx_table(rows, "MLP " + "→".join(map(str, model["sizes"]))),
        ]
    errors = sum(row["errors"] for row in results["rows"])
    return "\n".join(parts) + f"\n\nNon-200 answers during the runs: {errors}."
