"""How a CI runner can install the funnx that is running now, read from its PEP 610 record.

``pip`` writes ``direct_url.json`` into a distribution's metadata when it was installed from a URL
or a local folder, and nothing when it came from a package index. A generated pipeline must
install funnx from somewhere a clean runner reaches: the same index and version, or the same VCS
repository at the same commit, or an archive URL. A local folder (an editable checkout, a path)
cannot be reached from a runner, so the user has to say how (``--install-command``).
"""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

from framework.errors import GeneratorError

DISTRIBUTION = "funnx"
_REMOTE = ("https://", "http://", "ssh://", "git@")


def _direct_url() -> dict[str, Any] | None:
    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        raise GeneratorError(
            "funnx is not installed as a distribution (running from a source folder?); pass --install-command"
        ) from None
    return json.loads(text) if text else None


def install_command(direct_url: dict[str, Any] | None = None, version: str | None = None) -> str:
    """The pip command that installs this funnx on a clean runner; raises GeneratorError when it cannot."""
    if direct_url is None and version is None:
        direct_url, version = _direct_url(), metadata.version(DISTRIBUTION)
    if direct_url is None:  # from an index: the runner asks the same index for the same version
        return f'python -m pip install "funnx=={version}"'
    url = str(direct_url.get("url", ""))
    subdirectory = direct_url.get("subdirectory")
    fragment = f"#subdirectory={subdirectory}" if subdirectory else ""
    vcs = direct_url.get("vcs_info")
    if isinstance(vcs, dict) and url.startswith(_REMOTE):
        return f'python -m pip install "funnx @ {vcs.get("vcs", "git")}+{url}@{vcs["commit_id"]}{fragment}"'
    if "archive_info" in direct_url and url.startswith(("https://", "http://")):
        return f'python -m pip install "funnx @ {url}{fragment}"'
    where = "an editable checkout" if direct_url.get("dir_info", {}).get("editable") else "a local file or folder"
    raise GeneratorError(
        f"funnx was installed from {where} ({url}), which a CI runner cannot reach; pass --install-command with how "
        "the pipeline should install it, e.g. --install-command 'python -m pip install "
        '"funnx @ git+https://github.com/<owner>/funnx@<commit>"\''
    )
