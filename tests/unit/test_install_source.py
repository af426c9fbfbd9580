"""How a generated pipeline installs funnx: from the record of how this funnx was installed (PEP 610)."""

from __future__ import annotations

import pytest

from framework.errors import GeneratorError
from framework.generator.install_source import install_command
from tests.conftest import run_cli


def test_from_an_index_the_runner_installs_the_same_version() -> None:
    assert install_command(None, "0.4.2") == 'python -m pip install "funnx==0.4.2"'


def test_from_a_repository_the_runner_installs_the_same_commit() -> None:
    record = {"url": "https://github.com/acme/funnx.git", "vcs_info": {"vcs": "git", "commit_id": "9f8e7d",
              "requested_revision": "main"}}  # fmt: skip
    assert (
        install_command(record, "0.4.2")
        == 'python -m pip install "funnx @ git+https://github.com/acme/funnx.git@9f8e7d"'
    )
    record["subdirectory"] = "tools/funnx"
    assert install_command(record, "0.4.2").endswith('@9f8e7d#subdirectory=tools/funnx"')


def test_from_an_archive_url_the_runner_downloads_it() -> None:
    url = "https://example.org/dist/funnx-0.4.2-py3-none-any.whl"
    record = {"url": url, "archive_info": {"hashes": {"sha256": "00"}}}
    assert install_command(record, "0.4.2") == f'python -m pip install "funnx @ {url}"'


@pytest.mark.parametrize(
    "record",
    [
        {"url": "file:///home/me/funnx", "dir_info": {"editable": True}},
        {"url": "file:///home/me/funnx", "dir_info": {}},
        {"url": "file:///tmp/funnx-0.4.2-py3-none-any.whl", "archive_info": {}},
        {"url": "file:///home/me/funnx", "vcs_info": {"vcs": "git", "commit_id": "9f8e7d"}},
    ],
)
def test_a_local_install_cannot_be_reached_from_a_runner(record: dict[str, object]) -> None:
    with pytest.raises(GeneratorError, match="which a CI runner cannot reach; pass --install-command"):
        install_command(record, "0.4.2")


def test_generating_a_pipeline_from_this_editable_checkout_asks_for_the_install_command(tmp_path) -> None:
    app = tmp_path / "app"
    assert run_cli("init", app).exit_code == 0
    refused = run_cli("ci", "github", "--app-name", "churn", "--app", app)
    assert refused.exit_code == 1
    assert refused.output.startswith("error: funnx was installed from an editable checkout")
    assert len(refused.output.strip().splitlines()) == 1
    assert not (app / ".github").exists()
