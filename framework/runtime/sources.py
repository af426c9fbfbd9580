"""Where a model comes from, parsed from the declaration's ``source`` string without any I/O.

Three kinds, following conventions Azure users already know:

* a local file path, relative to the app root (``AzureWebJobsScriptRoot``) or absolute;
* ``az://<container>/<blob path>`` (the fsspec/adlfs scheme), read through a named connection
  setting, by default ``AzureWebJobsStorage`` like Functions bindings;
* an ``https://`` blob URL; a SAS token for it lives in an app setting, never in code;
* ``<name>:<version>`` or ``<name>:latest``: a model in the registry (:mod:`.registry`), read
  through the connection setting like ``az://`` sources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from framework.errors import ConfigurationError

from . import naming, settings

DEFAULT_CONNECTION = "AzureWebJobsStorage"


_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class LocalSource:
    """A model file on the app's disk (bundled with the app, or an absolute path)."""

    path: str

    def resolve(self) -> Path:
        candidate = Path(self.path).expanduser()
        return candidate if candidate.is_absolute() else settings.app_root() / candidate

    def describe(self) -> str:
        return self.path


@dataclass(frozen=True)
class BlobSource:
    """A blob in an Azure Storage account reached through the connection setting ``connection``."""

    container: str
    blob: str
    connection: str

    def describe(self) -> str:
        return f"az://{self.container}/{self.blob}"


@dataclass(frozen=True)
class UrlSource:
    """A blob addressed by URL; ``connection`` names the setting holding its SAS token, if any."""

    url: str
    connection: str | None

    def describe(self) -> str:
        return self.url


@dataclass(frozen=True)
class RegistrySource:
    """A registered model version (``latest`` follows the registry's pointer)."""

    name: str
    version: str
    connection: str

    def describe(self) -> str:
        return f"{self.name}:{self.version}"


ModelSource = LocalSource | BlobSource | UrlSource | RegistrySource
_REGISTERED = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_.-]{0,127}):(?P<version>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$")


def check_setting_name(name: str) -> str:
    if not naming.SETTING.match(name):
        raise ConfigurationError(
            f"invalid connection setting name {name!r}: use letters, digits and underscores "
            "(e.g. AzureWebJobsStorage or MODELS_STORAGE)"
        )
    return name


def split_sas(url: str) -> tuple[str, str | None]:
    """Split a blob URL into (URL without query, SAS token or None)."""
    parts = urlsplit(url)
    token = parts.query or None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), token


def parse_source(text: str, connection: str | None = None) -> ModelSource:
    """Parse a declared model source; raises ConfigurationError saying how to write it correctly."""
    text = text.strip()
    if not text:
        raise ConfigurationError("model source is empty: give a local .onnx path, az://container/blob or a blob URL")
    if connection is not None:
        check_setting_name(connection)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme == "az":
        return _parse_az(text, connection or DEFAULT_CONNECTION)
    if scheme in ("https", "http"):
        return _parse_url(text, connection)
    registered = _REGISTERED.match(text)
    if registered and not registered["name"].lower().endswith(".onnx"):
        return RegistrySource(registered["name"], registered["version"], connection or DEFAULT_CONNECTION)
    if scheme:
        raise ConfigurationError(
            f"unsupported model source scheme '{scheme}://': use a local path, az://<container>/<blob>, "
            "an https:// blob URL or a registered <name>:<version>"
        )
    if any(ord(ch) < 32 for ch in text):
        raise ConfigurationError("model path contains control characters")
    return LocalSource(text)


def _parse_az(text: str, connection: str) -> BlobSource:
    rest = text[len("az://") :]
    container, _, blob = rest.partition("/")
    if not naming.CONTAINER.match(container) and container != "$root":
        raise ConfigurationError(
            f"invalid container name {container!r} in {text!r}: 3-63 lowercase letters, digits and "
            "single hyphens (Azure's rule)"
        )
    _check_blob_name(blob, text)
    return BlobSource(container=container, blob=blob, connection=connection)


def _parse_url(text: str, connection: str | None) -> UrlSource:
    parts = urlsplit(text)
    if parts.query:
        raise ConfigurationError(
            "the model URL carries a SAS token: keep secrets out of code. Put the token in an app "
            "setting and name it as the connection (funnx new does this for you)"
        )
    host = parts.hostname or ""
    if parts.scheme == "http" and host not in _LOOPBACK_HOSTS:
        raise ConfigurationError(f"refusing plain http for {host!r}: use https (http is only for a local Azurite)")
    segments = [s for s in parts.path.split("/") if s]
    if not host or len(segments) < 2:
        raise ConfigurationError(
            f"blob URL {text!r} needs a container and a blob name, "
            "e.g. https://<account>.blob.core.windows.net/<container>/<blob>"
        )
    _check_blob_name(parts.path.lstrip("/"), text)
    return UrlSource(url=text, connection=connection)


def _check_blob_name(blob: str, text: str) -> None:
    if not blob or blob.endswith("/"):
        raise ConfigurationError(f"{text!r} names no blob: expected az://<container>/<path/to/model.onnx>")
    if len(blob) > 1024 or "\\" in blob or any(ord(ch) < 32 for ch in blob):
        raise ConfigurationError(
            f"invalid blob name in {text!r}: at most 1024 characters, no backslashes or control characters"
        )
