"""The benchmark suite still runs and writes its report (no timings are asserted: numbers live in docs/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import handler, report, scale
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
