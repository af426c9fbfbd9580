"""The ``context`` argument the worker passes to functions that declare one."""

from __future__ import annotations

import re
import secrets
import threading
from typing import Any

import azure.functions as func
from azure.functions._abc import RetryContext as _RetryContext  # the worker's own base classes
from azure.functions._abc import TraceContext as _TraceContext

TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


class TraceContext(_TraceContext):
    """W3C trace context: the request's ``traceparent`` if valid, else a new one (as the host does)."""

    def __init__(self, headers: dict[str, str]) -> None:
        parent = headers.get("traceparent", "")
        self._trace_parent = (
            parent if TRACEPARENT.match(parent) else f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
        )
        self._trace_state = headers.get("tracestate", "")

    @property
    def trace_parent(self) -> str:
        return self._trace_parent

    @property
    def trace_state(self) -> str:
        return self._trace_state

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class RetryContext(_RetryContext):
    """HTTP functions are not retried: always the first attempt."""

    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class EmulatorContext(func.Context):
    def __init__(
        self, invocation_id: str, function_name: str, function_directory: str, headers: dict[str, str]
    ) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._trace_context = TraceContext(headers)
        self._thread_local_storage = threading.local()
        self._thread_local_storage.invocation_id = invocation_id  # as the worker sets it

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def thread_local_storage(self) -> Any:
        return self._thread_local_storage

    @property
    def trace_context(self) -> TraceContext:
        return self._trace_context

    @property
    def retry_context(self) -> RetryContext:
        return RetryContext()
