"""The benchmark suite still runs and writes its report (no timings are asserted: numbers live in docs/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import batching, handler, mlserver_env, report, scale
from bench.__main__ import main


def test_sections_render_into_the_report_with_their_targets() -> None:
    results = {"handler": handler.run(budget_s=0.02), "scale": scale.run(counts=(1,))}
    markdown = report.markdown(results, elapsed_s=1.0)
    assert "| tiny | OIP binary |" in markdown and "| mlp | simple JSON (orjson floor) |" in markdown
    assert "handler overhead ≤ 25 µs" in markdown and "100 model functions" not in markdown  # only measured rows
    assert "| 1 | 6 |" in markdown  # one model: predict, metadata, OIP + the app's v2, OpenAPI and API page routes


def test_unknown_section_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["nope", "--out", str(tmp_path)])
    assert stopped.value.code == 2
    assert not (tmp_path / "benchmarks.md").exists()


def test_batching_report_reads_batch_sizes_from_model_metadata() -> None:
    """The harness must say whether FUNNX_<MODEL>_MAX_BATCH_* changed anything, whatever form the
    runtime's metadata 'batching' report takes."""
    assert batching.describe_batching(None) == (
        None,
        "batching not available (the model's metadata has no 'batching' key): rows measure unbatched",
    )
    assert batching.describe_batching({"requests": 64, "batches": 8})[0] is True
    assert "mean batch size 8.00" in batching.describe_batching({"requests": 64, "batches": 8})[1]
    assert batching.describe_batching({"batch_sizes": {"1": 10}})[0] is False  # a histogram: size → count
    assert "no request shared a batch" in batching.describe_batching({"batch_sizes": [1, 1]})[1]
    assert batching.describe_batching({"mean_batch_size": 3.5})[0] is True
    assert batching.describe_batching({"enabled": True})[0] is None


def test_batching_section_runs_every_server_and_renders() -> None:
    """A tiny run of `python -m bench batching`: real servers on loopback, the in-process path, MLServer
    only when .venv-mlserver already exists (the full run creates it)."""
    plan = batching.Plan(seconds=0.2, warmup=0.1, rounds=1, levels=(2,), large_sizes=(16, 32, 8), mlserver="existing")
    results = batching.run(plan)
    measured = {(row["group"], row["server"], row["payload"]) for row in results["rows"]}
    expected = {("client", "trivial server", "small")}
    expected |= {(group, server, payload) for group in ("large", "in-process") for server in ("funnx", "funnx batched")
                 for payload in ("binary", "json")}  # fmt: skip
    expected |= {("large", "funnx", "oip-json"), ("large", "funnx batched", "oip-json")}
    expected |= {("small", server, "small") for server in ("floor", "FastAPI inline", "funnx")}
    expected |= {("httpx", server, "small") for server in ("floor", "FastAPI inline", "funnx")}  # the client
    expected |= {("httpx", "funnx", "oip-json"), ("httpx", "funnx batched", "oip-json")}
    if mlserver_env.existing() is not None:
        expected |= {("large", "MLServer", "oip-json"), ("httpx", "MLServer", "oip-json")}
        assert results["mlserver"]["version"] == "1.7.1"
    else:
        assert "skipped" in results["mlserver"]
    assert measured == expected
    assert all(row["errors"] == 0 and row["requests"] > 0 and row["p50_ms"] > 0 for row in results["rows"])
    assert set(results["batching"]) == {
        "HTTP, funnx",
        "HTTP, funnx batched",
        "in-process, funnx",
        "in-process, funnx batched",
    }
    markdown = report.markdown({"batching": results}, elapsed_s=1.0)
    assert "`FUNNX_MLP25M_MAX_BATCH_SIZE=32`, `FUNNX_MLP25M_MAX_BATCH_DELAY_MS=2`" in markdown
    for _, sentence in results["batching"].values():
        assert sentence in markdown
    assert "| OIP binary | 2 |" in markdown and "| simple JSON | 2 |" in markdown  # HTTP and in-process tables
    assert "| HTTP, OIP binary | " in markdown and "| in-process, simple JSON | " in markdown  # the targets
    assert "| MLP 784→256→10, simple JSON | 8 | funnx | " in markdown  # the httpx table
    assert "| MLP 16→32→8, OIP JSON | 32 | funnx batched | " in markdown
    assert "httpx client (the issue's)" in markdown  # its target rows
    [four_times] = [line for line in markdown.splitlines() if "(25M MLP, every payload: the lowest) | " in line]
    assert all(f"{name} " in four_times for name in ("OIP binary", "simple JSON", "OIP JSON"))  # each payload named
    assert "—" not in markdown  # every cell and ratio was measured
