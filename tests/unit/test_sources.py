"""Model source strings: what users may write in --model and in a generated module."""

from __future__ import annotations

import pytest

from framework.errors import ConfigurationError
from framework.runtime.sources import BlobSource, LocalSource, UrlSource, parse_source, split_sas


def test_az_source_uses_default_connection_setting() -> None:
    source = parse_source("az://models/team/iris.onnx")
    assert source == BlobSource(container="models", blob="team/iris.onnx", connection="AzureWebJobsStorage")
    assert source.describe() == "az://models/team/iris.onnx"


def test_az_source_with_named_connection() -> None:
    assert parse_source("az://models/m.onnx", "MODELS_STORAGE") == BlobSource("models", "m.onnx", "MODELS_STORAGE")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("az://Models/m.onnx", "invalid container name"),
        ("az://ab/m.onnx", "invalid container name"),
        ("az://models/", "names no blob"),
        ("az://models", "names no blob"),
        ("s3://bucket/m.onnx", "unsupported model source scheme 's3://'"),
        ("", "model source is empty"),
        ("http://example.com/c/m.onnx", "refusing plain http"),
        ("https://acct.blob.core.windows.net/m.onnx", "needs a container and a blob name"),
        ("https://acct.blob.core.windows.net/c/m.onnx?sv=2024&sig=abc", "SAS token"),
    ],
)
def test_invalid_sources_say_how_to_fix(text: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        parse_source(text)


def test_invalid_connection_setting_name() -> None:
    with pytest.raises(ConfigurationError, match="invalid connection setting name"):
        parse_source("az://models/m.onnx", "bad-name")


def test_blob_url_without_token_and_loopback_http_for_azurite() -> None:
    assert parse_source("https://acct.blob.core.windows.net/c/m.onnx") == UrlSource(
        "https://acct.blob.core.windows.net/c/m.onnx", None
    )
    assert isinstance(parse_source("http://127.0.0.1:10000/devstoreaccount1/c/m.onnx"), UrlSource)


def test_split_sas_separates_the_token() -> None:
    url, token = split_sas("https://acct.blob.core.windows.net/c/m.onnx?sv=2024&sig=s3cr3t")
    assert url == "https://acct.blob.core.windows.net/c/m.onnx"
    assert token == "sv=2024&sig=s3cr3t"
    assert split_sas("https://acct.blob.core.windows.net/c/m.onnx") == (
        "https://acct.blob.core.windows.net/c/m.onnx",
        None,
    )


def test_local_paths_resolve_against_the_app_root(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("AzureWebJobsScriptRoot", str(tmp_path))
    source = parse_source("models/iris.onnx")
    assert isinstance(source, LocalSource)
    assert source.resolve() == tmp_path / "models" / "iris.onnx"
    assert parse_source(str(tmp_path / "abs.onnx")).resolve() == tmp_path / "abs.onnx"  # type: ignore[union-attr]
