"""The commands the documentation shows still work: every ```bash block of README.md and docs/*.md is
marked, and the runnable ones are run.

Each bash block needs an HTML comment on the line before it (invisible on GitHub and in the site):

* ``<!-- runnable -->``: run in order with the page's other runnable blocks, in one ``bash -eu -o
  pipefail`` script, in a fresh temporary folder, with this Python's bin folder (the repository's
  .venv in CI) first on PATH; a non-zero exit fails the test;
* ``<!-- runnable: server -->``: one command that serves (``funnx start``); it runs in the background,
  and the page's next blocks run once it prints ``Listening on``; it is stopped with Ctrl+C at the end;
* ``<!-- runnable: fails -->``: one command the page shows failing (a refused request): it must exit
  non-zero;
* ``<!-- not run: REASON -->``: shown, not run. What is not run and why: commands that need Azure
  (``az``, ``funnx publish``, ``func``) or an Azure storage account (``funnx model``), ``funnx
  package`` (it downloads ~50 MB of Linux wheels; tests/e2e/test_package.py builds and serves that
  zip), installing funnx itself (the network and a clone), ``scripts/demo.sh`` (run by
  tests/e2e/test_cli_to_http.py) and ``scripts/test.sh`` (CI itself), the benchmarks (minutes),
  ``mkdocs serve``, and conversions of files only the reader has.

The pages say ``localhost:7071``; each page is served on a free port instead: ``7071`` is replaced
by it in the commands run, and ``--port`` is added to ``funnx start``. ``curl`` runs with a
``.curlrc`` holding ``fail-with-body``, so an example that stops answering 2xx fails the test.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MARKER = re.compile(r"^<!-- (runnable(?:: (server|fails))?|not run: (.+)) -->$")
FENCE = re.compile(r"^```bash\s*$")
DOCS_PORT = "7071"
SERVER_START_SECONDS = 60
PAGE_SECONDS = 180


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    code: str
    marker: str | None  # the comment's text, None when the block is unmarked

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"

    @property
    def kind(self) -> str | None:
        """'run', 'server', 'fails', 'not run' or None (unmarked)."""
        found = MARKER.match(f"<!-- {self.marker} -->") if self.marker else None
        if found is None:
            return None
        if found.group(3) is not None:
            return "not run"
        return found.group(2) or "run"


def bash_blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        if FENCE.match(lines[index]):
            end = next(i for i in range(index + 1, len(lines)) if lines[i].strip() == "```")
            previous = next((lines[i].strip() for i in range(index - 1, -1, -1) if lines[i].strip()), "")
            comment = re.fullmatch(r"<!-- (.*) -->", previous)
            blocks.append(
                Block(page, index + 1, "\n".join(lines[index + 1 : end]), comment.group(1) if comment else None)
            )
            index = end
        index += 1
    return blocks


ALL_BLOCKS = [block for page in PAGES for block in bash_blocks(page)]
RUN_PAGES = sorted({block.page for block in ALL_BLOCKS if block.kind in ("run", "server", "fails")})


def test_every_bash_block_is_marked_runnable_or_says_why_not() -> None:
    assert len(ALL_BLOCKS) >= 20
    unmarked = [block.where for block in ALL_BLOCKS if block.kind is None]
    assert not unmarked, "mark each ```bash block with <!-- runnable --> or <!-- not run: REASON -->: " + ", ".join(
        unmarked
    )


def test_the_quickstart_is_run() -> None:
    """The README's and Getting started's own path, init → new → start → curl, is among what runs."""
    for page in (REPO / "README.md", REPO / "docs" / "getting-started.md"):
        ran = "\n".join(b.code for b in bash_blocks(page) if b.kind in ("run", "server"))
        for command in ("funnx init my-app", "funnx new iris --model models/iris.onnx", "funnx start", "curl -X POST"):
            assert command in ran, f"{page.name}: '{command}' is not run"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _single_command(block: Block) -> str:
    command = block.code.replace("\\\n", " ").strip()
    assert "\n" not in command, f"{block.where}: a '{block.kind}' block holds one command"
    return command


def script_for(page: Path, port: int, logs: Path) -> str:
    """One bash script running the page's runnable blocks in order."""
    parts = [
        "set -eu -o pipefail",
        "servers=()",
        'stop_servers() { for pid in "${servers[@]}"; do kill -INT "$pid" 2>/dev/null || true; done; wait; }',
        "trap stop_servers EXIT",
    ]
    for number, block in enumerate(b for b in bash_blocks(page) if b.kind in ("run", "server", "fails")):
        code = block.code.replace(DOCS_PORT, str(port))
        parts.append(f"echo '### {block.where} ({block.kind})' >&2")
        if block.kind == "run":
            parts.append(code)
        elif block.kind == "fails":
            command = _single_command(block).replace(DOCS_PORT, str(port))
            parts.append(f"if {command}; then echo '{block.where}: expected to fail, but it succeeded' >&2; exit 1; fi")
        else:
            command = _single_command(block)
            assert command.startswith("funnx start"), f"{block.where}: a server block runs funnx start"
            log = logs / f"server-{number}.log"
            parts += [
                f"{command} --port {port} > '{log}' 2>&1 &",
                "servers+=($!)",
                f"for _ in $(seq {SERVER_START_SECONDS * 10}); do",
                f"  grep -q 'Listening on' '{log}' && break",
                f"  kill -0 $! 2>/dev/null || {{ cat '{log}' >&2; exit 1; }}",
                "  sleep 0.1",
                "done",
                f"grep -q 'Listening on' '{log}' || {{ cat '{log}' >&2; exit 1; }}",
            ]
    return "\n".join(parts) + "\n"


def run_page(page: Path, folder: Path) -> tuple[int | None, str]:
    """Run the page's script in ``folder``; its exit code (None after a timeout) and output."""
    work, home, logs = folder / "work", folder / "home", folder / "logs"
    for made in (work, home, logs):
        made.mkdir()
    (home / ".curlrc").write_text("fail-with-body\nmax-time = 60\n")  # any HTTP error status fails the block
    script = folder / "page.sh"
    script.write_text(script_for(page, _free_port(), logs))
    bin_dir = Path(sys.executable).parent  # the repository's .venv/bin (funnx, python, pytest)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(home),
           "FUNNX_MODEL_CACHE_DIR": str(folder / "model-cache"), "PYTHONUNBUFFERED": "1"}  # fmt: skip
    env.pop("PYTEST_ADDOPTS", None)
    process = subprocess.Popen(
        ["bash", str(script)], cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = process.communicate(timeout=PAGE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return None, process.communicate()[0]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return process.returncode, output


PageRun = Future[tuple[int | None, str]]


def _selected_pages(session: pytest.Session) -> list[Path]:
    """The pages whose test is selected in this session (with -k, not every page runs)."""
    pages = set()
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        page = callspec.params.get("page") if callspec is not None else None
        if isinstance(page, Path) and page in RUN_PAGES:
            pages.add(page)
    return sorted(pages)


@pytest.fixture(scope="module")
def page_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[Path, PageRun]]:
    """The selected pages' commands, run two pages at a time (most of a page's time is spent waiting
    for imports and servers, so two share the machine's cores well)."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="docs-page") as pool:
        yield {
            page: pool.submit(run_page, page, tmp_path_factory.mktemp(page.stem))
            for page in _selected_pages(request.session)
        }


@pytest.mark.parametrize("page", RUN_PAGES, ids=[str(p.relative_to(REPO)) for p in RUN_PAGES])
def test_the_runnable_commands_of_the_page_run(page: Path, page_runs: dict[Path, PageRun]) -> None:
    code, output = page_runs[page].result()
    assert code is not None, f"{page.name}: the commands did not finish in {PAGE_SECONDS} s:\n{output[-4000:]}"
    assert code == 0, f"{page.name}: a documented command failed:\n{output[-6000:]}"
