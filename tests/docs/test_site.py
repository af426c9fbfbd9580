"""The documentation site builds with `mkdocs build --strict` (no broken link or anchor, every page in
the nav), its CLI reference documents every command and option, and README.md stays short and
points at pages that exist."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from framework.cli.main import cli

REPO = Path(__file__).resolve().parents[2]
README_MAX_LINES = 200


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built strictly into a temporary folder, in a fresh process (as CI and `mkdocs build`
    run it: mkdocs-click then finds the lazily loaded command group with no command loaded yet)."""
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # Material's banner about MkDocs 2.0, not a finding
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    return out


def _commands(group: click.Group, path: str = "funnx") -> list[tuple[str, click.Command]]:
    """Every command under ``group`` with its full path ('funnx ci github'), loading the lazy ones."""
    context = click.Context(group, info_name=path)
    found = []
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        found.append((f"{path} {name}", command))
        if isinstance(command, click.Group):
            found += _commands(command, f"{path} {name}")
    return found


def test_the_site_has_every_page_of_the_nav(site: Path) -> None:
    pages = sorted(p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").glob("*.md"))
    assert "index.md" in pages and "cli.md" in pages
    for page in pages:
        built = site / ("index.html" if page == "index.md" else f"{page.removesuffix('.md')}/index.html")
        assert built.is_file(), f"{page} was not built"


def test_the_cli_reference_documents_every_command_and_option(site: Path) -> None:
    page = (site / "cli" / "index.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    commands = _commands(cli)
    assert len(commands) >= 17  # 13 top-level commands, ci/infra/model subcommands
    for path, command in commands:
        anchor = path.replace(" ", "-")
        assert f'id="{anchor}"' in page, f"no section for {path}"
        assert f"{path} [OPTIONS]" in text, f"no usage line for {path}"
        for option in (p for p in command.params if isinstance(p, click.Option) and not p.hidden):
            for flag in option.opts:
                assert flag in text, f"{path}: option {flag} is missing from the CLI reference"


def test_the_readme_is_short_and_its_links_resolve() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    targets = re.findall(r"\]\(((?!https?://|#)[^)\s]+)\)", readme)
    assert targets, "the README links to the documentation"
    for target in targets:
        assert (REPO / target.split("#")[0]).exists(), f"README.md links to {target}, which does not exist"
