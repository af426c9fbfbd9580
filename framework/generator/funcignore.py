"""Which app files stay out of the deployment package: .funcignore (gitignore syntax, matched with
``pathspec``) plus what Core Tools always leaves out."""

from __future__ import annotations

from pathlib import Path

import pathspec

#: Excluded by Core Tools whatever .funcignore says.
ALWAYS_EXCLUDED = [".git/", ".vscode/", ".funcignore", ".gitignore", "local.settings.json", "project.lock.json"]


def excluding_rule(app_dir: Path, relative: str) -> str | None:
    """The .funcignore line (or built-in rule) that keeps ``relative`` out of the package, if any."""
    path = app_dir / ".funcignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    for rule in ALWAYS_EXCLUDED + [line.strip() for line in lines]:
        if rule and not rule.startswith(("#", "!")) and pathspec.GitIgnoreSpec.from_lines([rule]).match_file(relative):
            return rule
    return None
