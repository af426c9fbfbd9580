"""Secrets stay secret: account keys, connection strings, SAS tokens and function keys never show
up in what funnx prints, logs or answers, and local secret files never leave the machine.

Each check greps real captured output (the `funnx start` console, CLI output, HTTP bodies and
headers) for the real secret values, in the encodings they could take (raw, URL-quoted).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from framework.emulator.azurite import ACCOUNT, ACCOUNT_KEY
from framework.generator.package import build_package
from framework.runtime.cache import ModelCache
from tests.conftest import AzuriteService, funnx_start, run_cli
from tests.models import add_one

pytestmark = [pytest.mark.e2e, pytest.mark.storage]


def _encodings(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret)}


def _write_only_sas(container: str, blob: str) -> str:
    """A valid signature that storage refuses for reads: the load fails and its error is reported."""
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    expiry = datetime.now(UTC) + timedelta(hours=1)
    permission = BlobSasPermissions(write=True)
    return generate_blob_sas(ACCOUNT, container, blob, account_key=ACCOUNT_KEY, permission=permission, expiry=expiry)


def test_no_secret_reaches_the_console_errors_or_listings(
    app_dir: Path, azurite: AzuriteService, tmp_path: Path
) -> None:
    container = azurite.container()
    azurite.upload(container, "m.onnx", add_one(tmp_path / "m.onnx").read_bytes())
    wrong_key = base64.b64encode(secrets.token_bytes(64)).decode()
    wrong_connection = azurite.connection_string.replace(ACCOUNT_KEY, wrong_key)
    sas = _write_only_sas(container, "m.onnx")
    sas_url = f"{azurite.azurite.blob_endpoint}/{container}/m.onnx"
    for args in (
        ["good", "--model", f"az://{container}/m.onnx"],
        ["keyed", "--model", f"az://{container}/m.onnx", "--connection", "OTHER_STORAGE"],
        ["signed", "--model", f"{sas_url}?{sas}"],
    ):
        created = run_cli("new", *args, "--app", app_dir)
        assert created.exit_code == 0 and sas not in created.output, created.output
    local = json.loads((app_dir / "local.settings.json").read_text())
    local["Values"] |= {"AzureWebJobsStorage": azurite.connection_string, "OTHER_STORAGE": wrong_connection}
    (app_dir / "local.settings.json").write_text(json.dumps(local))

    seen: list[str] = []
    with funnx_start(app_dir, "--port", "0", "--enforce-keys") as (url, log):
        keys = json.loads((app_dir / ".funnx" / "keys.json").read_text())
        function_key = keys["functionKeys"]["good"]["default"]
        with httpx.Client(base_url=url, timeout=30) as http:
            replies = [
                http.post("/api/good", json={"data": [1]}, headers={"x-functions-key": function_key}),
                http.post("/api/good", json={"data": [1]}, params={"code": function_key}),
                http.post("/api/keyed", json={"data": [1]}, params={"code": keys["masterKey"]}),
                http.post("/api/signed", json={"data": [1]}, params={"code": keys["masterKey"]}),
                http.post("/api/good", json={"data": [1]}, params={"code": "not-a-key"}),
                http.get("/api/keyed", params={"code": keys["masterKey"]}),  # metadata: names the source
                http.post(
                    "/api/v2/models/GOOD/infer", content=b"\0" * 4, headers={"Inference-Header-Content-Length": "0"}
                ),
            ]
        seen += [f"{reply.status_code} {reply.headers} {reply.text}" for reply in replies]
    seen += log
    assert any("funnx model load failed: model 'keyed'" in line for line in log)  # the console did log the failures
    assert [reply.status_code for reply in replies[:2]] == [200, 200]
    assert [reply.status_code for reply in replies[2:5]] == [503, 503, 401]
    assert replies[6].status_code == 401  # OIP inference needs the key too, whatever the casing
    assert "OTHER_STORAGE" in replies[2].json()["error"] and "signed" in replies[3].json()["error"]
    for listing in (run_cli("list", "--app", app_dir), run_cli("list", "--json", "--app", app_dir)):
        assert listing.exit_code == 0
        seen.append(listing.output)

    signature = sas.split("sig=")[1]
    everything = "\n".join(seen)
    secret_values = {
        "account key": ACCOUNT_KEY, "wrong account key": wrong_key,
        "connection string": azurite.connection_string, "wrong connection string": wrong_connection,
        "SAS token": sas, "SAS signature": signature, "function key": function_key, "master key": keys["masterKey"],
    }  # fmt: skip
    for what, value in secret_values.items():
        for shown in _encodings(value):
            assert shown not in everything, f"the {what} appeared in funnx's output"


def test_local_secret_files_are_git_ignored_and_never_packaged(app_dir: Path, tmp_path: Path) -> None:
    assert run_cli("new", "m", "--model", "az://models/m.onnx", "--app", app_dir).exit_code == 0
    (app_dir / ".funnx").mkdir(exist_ok=True)
    (app_dir / ".funnx" / "keys.json").write_text('{"masterKey": "k"}')
    ignored = (app_dir / ".gitignore").read_text().splitlines()
    assert "local.settings.json" in ignored and any(line.strip("/") == ".funnx" for line in ignored)
    with zipfile.ZipFile(build_package(app_dir, tmp_path / "app.zip").path) as archive:
        names = archive.namelist()
    assert "function_app.py" in names
    assert not [name for name in names if name.startswith((".funnx/", "local.settings"))], names


def test_generated_functions_default_to_function_level_keys(app_dir: Path) -> None:
    assert run_cli("new", "m", "--model", "az://models/m.onnx", "--app", app_dir).exit_code == 0
    listed = json.loads(run_cli("list", "--json", "--app", app_dir).output)
    levels = {row["name"]: row["auth_level"] for row in listed}
    assert levels["m"] == levels["m_metadata"] == levels["m_v2"] == "function", levels


@pytest.mark.parametrize(
    ("identity", "etag"),
    [("az://models/../../../../etc/passwd", '"../../x"'), ("\x00/..\\..", "/abs/path"), ("ü" * 500, "." * 200)],
)
def test_cache_paths_stay_inside_the_cache_folder(tmp_path: Path, identity: str, etag: str) -> None:
    cache = ModelCache(tmp_path / "cache")
    path = cache.path_for(identity, etag)
    assert path.parent == tmp_path / "cache" and os.sep not in path.name and len(path.name) < 120
