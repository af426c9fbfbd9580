"""Azure Blob Storage access for model downloads: the only module that imports the storage SDK.

``azure.storage.blob`` and ``azure.identity`` are imported inside these functions, so a worker that
serves only cached or local models never loads them. Connection settings follow the Functions
binding conventions: ``<CONN>`` holds a connection string; otherwise ``<CONN>__serviceUri`` /
``<CONN>__blobServiceUri`` / ``<CONN>__accountName`` select identity-based access with
``<CONN>__credential`` and ``<CONN>__clientId``. Error messages name the model, the source and the
setting, never a key, a SAS token or a URL query.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

from framework.errors import ModelUnavailable

from . import settings
from .sources import BlobSource, UrlSource

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient

log = logging.getLogger("funnx.runtime")


@dataclass(frozen=True)
class BlobVersion:
    """What a HEAD request tells about the blob: enough to find or verify a cached copy."""

    etag: str
    size: int
    content_md5: bytes | None
    sha256: str | None


class _RedactSasSignatures(logging.Filter):
    """urllib3 logs request URLs at DEBUG; a SAS URL's signature must not reach any log."""

    _SIG = re.compile(r"(?i)(\bsig=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "sig=" in message.lower():
            record.msg, record.args = self._SIG.sub(r"\1REDACTED", message), ()
        return True


def _guard_logs() -> None:
    # The SDK logs every request and response at INFO; keep that out of function logs unless the
    # app configured the logger itself.
    http_log = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
    if http_log.level == logging.NOTSET:
        http_log.setLevel(logging.WARNING)
    pool_log = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactSasSignatures) for f in pool_log.filters):
        pool_log.addFilter(_RedactSasSignatures())


READ_TIMEOUT_SECONDS = 20


def _client_options() -> dict[str, Any]:
    from azure.storage.blob import ExponentialRetry

    _guard_logs()

    # Retries run in the model's background load, never on a request: requests get 503 as soon as the
    # first retry starts (see model.py). The SDK default (10 retries from a 15 s backoff) would keep a
    # load busy for minutes; four retries (after ~1, 3, 5 and 9 s), then the model's retry window.
    # A read that gets no byte for READ_TIMEOUT_SECONDS means storage stalled (a healthy stream never
    # pauses that long): it fails and retries, so requests get a 503 instead of waiting on silence.
    retry = ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=4, random_jitter_range=1)
    return {"retry_policy": retry, "connection_timeout": 10, "read_timeout": READ_TIMEOUT_SECONDS}


class RemoteBlob:
    """One model blob: HEAD it, stream it into a file. Knows nothing of HTTP requests or sessions."""

    def __init__(self, client: BlobClient, identity: str, model: str, description: str, setting: str | None):
        self._client = client
        self.on_retry: Callable[[str], None] | None = None  # told why, each time the SDK retries
        self.identity = identity
        self._model = model
        self._description = description
        self._setting = setting

    @property
    def endpoint(self) -> str:
        parts = urlsplit(self._client.url)
        return f"{parts.scheme}://{parts.netloc}"

    def properties(self) -> BlobVersion:
        try:
            props = self._client.get_blob_properties(retry_hook=self._retry_hook)
        except Exception as err:
            raise self._unavailable("reading blob properties", err) from None
        sha256 = (props.metadata or {}).get("sha256")
        md5 = props.content_settings.content_md5 if props.content_settings else None
        return BlobVersion(
            etag=str(props.etag), size=int(props.size), content_md5=bytes(md5) if md5 else None, sha256=sha256
        )

    def download_into(self, stream: BinaryIO, version: BlobVersion) -> int:
        """Stream exactly ``version`` into ``stream`` (fails if the blob changes meanwhile)."""
        from azure.core import MatchConditions

        try:
            downloader = self._client.download_blob(
                max_concurrency=4,
                etag=version.etag,
                match_condition=MatchConditions.IfNotModified,
                retry_hook=self._retry_hook,
            )
            return int(downloader.readinto(stream))
        except OSError as err:
            if err.errno is not None:  # the local disk (full, read-only), not the network
                raise
            raise self._unavailable("downloading", err) from None
        except Exception as err:
            raise self._unavailable("downloading", err) from None

    def _retry_hook(self, *, error: Exception | None = None, response: Any = None, **_: Any) -> None:
        """Called by the storage SDK's retry policy before each retry (it keeps retrying)."""
        if self.on_retry is None:
            return
        status = getattr(response, "status_code", "?")
        reason = explain(error, self._setting, self.endpoint) if error else f"storage answered HTTP {status}"
        self.on_retry(f"model '{self._model}': reading {self._description} failed ({reason}); retrying")

    def _unavailable(self, action: str, err: Exception) -> ModelUnavailable:
        return ModelUnavailable(
            f"model '{self._model}': {action} {self._description} failed: {explain(err, self._setting, self.endpoint)}"
        )


def explain(err: Exception, setting: str | None, endpoint: str) -> str:
    """A one-line, secret-free explanation of a storage SDK error with a hint for the fix."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceModifiedError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    code = getattr(err, "error_code", None) or ""
    code = str(getattr(code, "value", code))  # the SDK gives a StorageErrorCode enum or a string
    status = getattr(err, "status_code", None)
    where = f"app setting {setting}" if setting else "the URL"
    if isinstance(err, ResourceNotFoundError):
        return f"not found ({code or '404'}); upload the model or fix the source"
    if isinstance(err, ClientAuthenticationError) or status in (401, 403):
        return (
            f"storage rejected the credentials from {where} ({code or type(err).__name__}); check the "
            "account key, SAS token (expiry, read permission) or the identity's Storage Blob Data Reader role"
        )
    if isinstance(err, ResourceModifiedError):
        return "the blob changed during the download; the next request retries with the new version"
    if isinstance(err, ServiceRequestError | ServiceResponseError):
        return f"cannot reach storage at {endpoint} ({type(err).__name__}); is the account up and the endpoint right?"
    if isinstance(err, HttpResponseError):
        return f"storage answered HTTP {status} {code}".rstrip()
    return f"{type(err).__name__}"


def open_blob(source: BlobSource | UrlSource, model: str) -> RemoteBlob:
    """A RemoteBlob for ``source``, with credentials taken from its connection setting."""
    from azure.storage.blob import BlobClient

    if isinstance(source, UrlSource):
        token = settings.get(source.connection) if source.connection else None
        if source.connection and token is None:
            raise ModelUnavailable(
                f"model '{model}': app setting {source.connection} (the SAS token for {source.url}) is not set; "
                "set it to the token, without the leading '?'"
            )
        url = f"{source.url}?{token.lstrip('?')}" if token else source.url
        try:
            client = BlobClient.from_blob_url(url, **_client_options())
        except ValueError:
            raise ModelUnavailable(f"model '{model}': {source.url} is not a blob URL the storage SDK accepts") from None
        return RemoteBlob(client, source.url, model, source.url, source.connection)

    service = service_client(source.connection, model, source.describe())
    client = service.get_blob_client(source.container, source.blob)
    identity = f"{service.url.rstrip('/')}/{source.container}/{source.blob}"
    return RemoteBlob(client, identity, model, source.describe(), source.connection)


def service_client(conn: str, model: str, what: str) -> Any:
    """A BlobServiceClient from connection setting ``conn`` (to read ``what`` for ``model``)."""
    from azure.storage.blob import BlobServiceClient

    connection_string = settings.get(conn)
    if connection_string:
        try:
            return BlobServiceClient.from_connection_string(connection_string, **_client_options())
        except ValueError:
            raise ModelUnavailable(
                f"model '{model}': app setting {conn} is not a valid storage connection string "
                "(expected AccountName=...;AccountKey=... or UseDevelopmentStorage=true)"
            ) from None
    account_url = settings.get(f"{conn}__serviceUri") or settings.get(f"{conn}__blobServiceUri")
    account_name = settings.get(f"{conn}__accountName")
    if not account_url and account_name:
        account_url = f"https://{account_name}.blob.core.windows.net"
    if not account_url:
        raise ModelUnavailable(
            f"model '{model}': app setting {conn} is not set, so {what} cannot be read. Set {conn} "
            f"to a storage connection string (UseDevelopmentStorage=true for Azurite), or set "
            f"{conn}__serviceUri=https://<account>.blob.core.windows.net to use a managed identity"
        )
    try:
        return BlobServiceClient(account_url, credential=_credential(conn), **_client_options())
    except ValueError as err:  # e.g. "Token credential is only supported with HTTPS."
        raise ModelUnavailable(f"model '{model}': the service URI in app setting {conn}__serviceUri: {err}") from None


def _credential(conn: str) -> Any:
    client_id = settings.get(f"{conn}__clientId")
    if (settings.get(f"{conn}__credential") or "").lower() == "managedidentity":
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=client_id) if client_id else DefaultAzureCredential()
