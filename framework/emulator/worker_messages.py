"""The host↔worker messages azure-functions-runtime reads and writes, as plain dataclasses.

On Python 3.13+ the Functions host talks gRPC to a thin proxy worker, which hands every message to
``azure_functions_runtime`` together with ``properties={"host": ..., "protos": <message module>}``;
the runtime reads the request's fields and builds its replies from the message types it is given.
This module is the emulator's stand-in for those message types: only the messages and fields the
runtime touches on the HTTP path (worker init, function metadata, function load, invocation),
with the protocol's field names, enum numbers and defaults (a message field the runtime reads is
an empty message when unset, as protobuf gives it). Written from what the runtime reads, not
copied from Azure's .proto files.

Standalone on purpose (stdlib only, no funnx imports): tests load it by file path in a bare
interpreter to check it against the runtime.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar


class _OneOf:
    """``WhichOneof(group)`` as protobuf messages offer it: the name of the one field set, or None."""

    _ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {}

    def WhichOneof(self, group: str) -> str | None:  # protobuf's spelling
        for name in self._ONEOFS[group]:  # a plain loop: the runtime asks 4 times per invocation
            if getattr(self, name) is not None:
                return name
        return None


# --- status and errors ------------------------------------------------------------------------------


@dataclass
class RpcException:
    message: str = ""
    stack_trace: str = ""
    source: str = ""


@dataclass
class StatusResult:
    Failure: ClassVar[int] = 0
    Success: ClassVar[int] = 1
    Cancelled: ClassVar[int] = 2

    status: int = 0
    result: str = ""
    exception: RpcException | None = None


@dataclass
class WorkerMetadata:
    runtime_name: str = ""
    runtime_version: str = ""
    worker_version: str = ""
    worker_bitness: str = ""
    custom_properties: dict[str, str] = field(default_factory=dict)


# --- typed data: what a binding carries ------------------------------------------------------------


@dataclass
class NullableString:
    value: str = ""


@dataclass
class NullableBool:
    value: bool = False


@dataclass
class NullableDouble:
    value: float = 0.0


@dataclass
class Timestamp:
    seconds: int = 0
    nanos: int = 0


@dataclass
class NullableTimestamp:
    value: Timestamp | None = None


@dataclass
class RpcHttpCookie:
    SameSite: ClassVar[Any] = types.SimpleNamespace(**{"None": 0, "Lax": 1, "Strict": 2, "ExplicitNone": 3})

    name: str = ""
    value: str = ""
    domain: NullableString | None = None
    path: NullableString | None = None
    expires: NullableTimestamp | None = None
    secure: NullableBool | None = None
    http_only: NullableBool | None = None
    same_site: int = 0
    max_age: NullableDouble | None = None


@dataclass
class TypedData(_OneOf):
    _ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {"data": ("string", "json", "bytes", "http", "int", "double")}

    string: str | None = None
    json: str | None = None
    bytes: bytes | None = None
    http: RpcHttp | None = None
    int: int | None = None
    double: float | None = None


@dataclass
class RpcHttp:
    """An HTTP request (host → worker) or response (worker → host)."""

    method: str = ""
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: TypedData = field(default_factory=TypedData)  # read as an empty message when unset
    params: dict[str, str] = field(default_factory=dict)  # route values
    query: dict[str, str] = field(default_factory=dict)
    status_code: str = ""
    enable_content_negotiation: bool = False
    cookies: list[RpcHttpCookie] | None = None


@dataclass
class ParameterBinding(_OneOf):
    _ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {"rpc_data": ("data",)}

    name: str = ""
    data: TypedData | None = None


# --- worker init and function metadata -------------------------------------------------------------


@dataclass
class WorkerInitRequest:
    host_version: str = ""
    capabilities: dict[str, str] = field(default_factory=dict)
    function_app_directory: str = ""
    worker_directory: str = ""


@dataclass
class WorkerInitResponse:
    worker_version: str = ""
    capabilities: dict[str, str] = field(default_factory=dict)
    result: StatusResult | None = None
    worker_metadata: WorkerMetadata | None = None


@dataclass
class BindingInfo:
    # direction
    in_: ClassVar[int] = 0  # "in" in the protocol (a Python keyword); the runtime never names it
    out: ClassVar[int] = 1
    inout: ClassVar[int] = 2
    # data_type
    undefined: ClassVar[int] = 0
    string: ClassVar[int] = 1
    binary: ClassVar[int] = 2
    stream: ClassVar[int] = 3

    type: str = ""
    direction: int = 0
    data_type: int | None = 0


@dataclass
class RpcRetryOptions:
    max_retry_count: int = 0
    delay_interval: Any = None
    minimum_interval: Any = None
    maximum_interval: Any = None
    retry_strategy: Any = None


@dataclass
class RpcFunctionMetadata:
    name: str = ""
    directory: str = ""
    script_file: str = ""
    entry_point: str = ""
    bindings: dict[str, BindingInfo] = field(default_factory=dict)
    is_proxy: bool = False
    language: str = ""
    raw_bindings: list[str] = field(default_factory=list)
    function_id: str = ""
    managed_dependency_enabled: bool = False
    retry_options: RpcRetryOptions | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class FunctionsMetadataRequest:
    function_app_directory: str = ""


@dataclass
class FunctionMetadataResponse:
    function_metadata_results: list[RpcFunctionMetadata] | None = None
    result: StatusResult | None = None
    use_default_metadata_indexing: bool = False


@dataclass
class FunctionLoadRequest:
    function_id: str = ""
    metadata: RpcFunctionMetadata | None = None
    managed_dependency_enabled: bool = False


@dataclass
class FunctionLoadResponse:
    function_id: str = ""
    result: StatusResult | None = None
    is_dependency_downloaded: bool = False


# --- invocation ------------------------------------------------------------------------------------


@dataclass
class RpcTraceContext:
    trace_parent: str = ""
    trace_state: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class RetryContext:
    retry_count: int = 0
    max_retry_count: int = 0
    exception: RpcException | None = None


@dataclass
class InvocationRequest:
    invocation_id: str = ""
    function_id: str = ""
    input_data: list[ParameterBinding] = field(default_factory=list)
    trigger_metadata: dict[str, TypedData] = field(default_factory=dict)
    trace_context: RpcTraceContext = field(default_factory=RpcTraceContext)
    retry_context: RetryContext = field(default_factory=RetryContext)


@dataclass
class InvocationResponse:
    invocation_id: str = ""
    output_data: list[ParameterBinding] = field(default_factory=list)
    return_value: TypedData | None = None
    result: StatusResult | None = None


# --- the envelope ----------------------------------------------------------------------------------


@dataclass
class StreamingMessage:
    """One message from the host; exactly one of the request fields is set."""

    request_id: str = ""
    worker_init_request: WorkerInitRequest | None = None
    functions_metadata_request: FunctionsMetadataRequest | None = None
    function_load_request: FunctionLoadRequest | None = None
    invocation_request: InvocationRequest | None = None


@dataclass
class WorkerRequest:
    """What the proxy worker passes to each runtime entry point: ``request.request`` is the host's
    message, ``request.properties`` carries ``host`` (the host's address) and ``protos`` (this module)."""

    request: StreamingMessage
    properties: dict[str, Any]


def field_names(message: type) -> set[str]:
    """The fields a message type carries (for tests comparing them with what the runtime uses)."""
    return {f.name for f in fields(message)}
