"""Azure's own worker code in the emulator (Python 3.13+): index, load and invoke through
azure-functions-runtime, the library Azure's 3.13+ proxy worker hands every host message to.

The emulator plays the host and the proxy worker, with the message types of :mod:`.worker_messages`.
It sends a worker-init message, on which the runtime indexes the app: it finds function_app.py
already imported by the emulator (whose import errors name the file and line), finds the FunctionApp
and validates every function's parameters and annotations. Then it asks for the function metadata,
loads each function, and sends one invocation message per request. Binding conversion (the
``HttpRequest`` a function gets, what its return value becomes), the ``context`` argument and the
sync/async split (sync functions on the runtime's thread pool) are the runtime's own.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import azure.functions as func
import azure_functions_runtime as runtime

from framework.errors import EmulatorError, FunctionRefused

from . import worker_messages as messages
from .context import TRACEPARENT
from .invocation import Cookie, FunctionFailed, HostRequest, Reply, http_reply, text_reply
from .loader import HttpFunction

_REFUSAL_PREFIX = "FunctionLoadError: cannot load the "


class _ThreadPool:
    """The runtime's thread pool is one per process: started with the first open invoker, shut with the
    last. It counts the sync calls it runs, which outlive a cancelled request (``funnx start`` reports
    them at exit instead of waiting for them)."""

    lock = threading.Lock()
    users = 0
    running = 0

    @classmethod
    def acquire(cls) -> None:
        with cls.lock:
            if cls.users == 0:
                runtime.start_threadpool_executor()  # sized by PYTHON_THREADPOOL_THREAD_COUNT, like the worker's
                pool = runtime.get_threadpool_executor()
                pool.submit = functools.partial(cls._counted, pool.submit)
            cls.users += 1

    @classmethod
    def _counted(cls, submit: Callable[..., Future[Any]], call: Callable[..., Any], /, *args: Any) -> Future[Any]:
        with cls.lock:
            cls.running += 1
        try:
            future = submit(call, *args)
        except BaseException:
            cls._finished(None)
            raise
        future.add_done_callback(cls._finished)
        return future

    @classmethod
    def _finished(cls, _future: Future[Any] | None) -> None:
        with cls.lock:
            cls.running -= 1

    @classmethod
    def release(cls) -> None:
        with cls.lock:
            cls.users -= 1
            pool = runtime.get_threadpool_executor() if cls.users == 0 else None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)  # a stuck call must not hold up the exit


def _run(coroutine: Any) -> Any:
    """Run a coroutine to completion from synchronous code, even if an event loop is running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _index_error(exception: messages.RpcException | None) -> EmulatorError:
    message = exception.message if exception is not None else "no reason given"
    if message.startswith(_REFUSAL_PREFIX) and " function: " in message:
        name, cause = message[len(_REFUSAL_PREFIX) :].split(" function: ", 1)
        return FunctionRefused(name, cause)
    return EmulatorError(f"the Python worker cannot index the app: {message}")


class RuntimeInvoker:
    needs_invocation_id = True

    def __init__(self, app_dir: str, register: func.FunctionRegister, functions: list[func.Function]) -> None:
        """Index and load the app's functions (``functions``, from ``register.get_functions()``)."""
        self._properties = {"host": "127.0.0.1", "protos": messages}
        # The runtime calls get_functions() itself; a second call would fail (the library caches the
        # built bindings), so it gets the list the emulator already has.
        register.get_functions = lambda: functions  # type: ignore[method-assign]
        _ThreadPool.acquire()
        self._closed = False
        try:
            self.function_ids: dict[str, str] = _run(self._load(app_dir))
        except BaseException:
            self.close()
            raise

    def _message(self, **request: Any) -> messages.WorkerRequest:
        return messages.WorkerRequest(messages.StreamingMessage(**request), self._properties)

    async def _load(self, app_dir: str) -> dict[str, str]:
        init = messages.WorkerInitRequest(function_app_directory=app_dir, capabilities={})
        initialized = await runtime.worker_init_request(self._message(worker_init_request=init))
        if initialized.result.status != messages.StatusResult.Success:
            raise _index_error(initialized.result.exception)
        if "HttpUri" in initialized.capabilities:
            raise EmulatorError(
                "the app uses HTTP streaming (azurefunctions-extensions-http-fastapi), which the emulator does not "
                "serve; remove the extension's import to serve it with funnx"
            )
        request = messages.FunctionsMetadataRequest(function_app_directory=app_dir)
        metadata = await runtime.functions_metadata_request(self._message(functions_metadata_request=request))
        ids = {}
        for function in metadata.function_metadata_results or []:
            load = messages.FunctionLoadRequest(function_id=function.function_id, metadata=function)
            loaded = await runtime.function_load_request(self._message(function_load_request=load))
            if loaded.result.status != messages.StatusResult.Success:
                raise _index_error(loaded.result.exception)
            ids[function.name] = function.function_id
        return ids

    @property
    def running_calls(self) -> int:
        return _ThreadPool.running

    async def invoke(self, function: HttpFunction, request: HostRequest, invocation_id: str) -> Reply:
        http = messages.RpcHttp(
            method=request.method,
            url=request.url,
            headers=request.headers,
            query=request.query,
            params=request.route_params,
            body=messages.TypedData(bytes=request.body) if request.body else messages.TypedData(),
        )
        message = messages.InvocationRequest(
            invocation_id=invocation_id,
            function_id=function.function_id,
            input_data=[messages.ParameterBinding(name=function.trigger_arg, data=messages.TypedData(http=http))],
            trace_context=_trace_context(request.headers, function.wants_context),
        )
        response = await runtime.invocation_request(self._message(invocation_request=message))
        if response.result.status != messages.StatusResult.Success:
            exception = response.result.exception
            raise FunctionFailed(f"{exception.message}\n{exception.stack_trace}" if exception else "no reason given")
        return _reply(response.return_value)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            _ThreadPool.release()


def _trace_context(headers: dict[str, str], wanted: bool) -> messages.RpcTraceContext:
    """The request's W3C trace context (a new one when it has none, if the function can see it)."""
    parent = headers.get("traceparent", "")
    if not TRACEPARENT.match(parent):
        parent = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01" if wanted else ""
    return messages.RpcTraceContext(trace_parent=parent, trace_state=headers.get("tracestate", ""))


def _reply(value: messages.TypedData | None) -> Reply:
    kind = value.WhichOneof("data") if value is not None else None
    if value is not None and kind == "string" and value.string is not None:
        return text_reply(value.string)
    if value is None or value.http is None:
        raise FunctionFailed(f"the worker returned {kind or 'nothing'} for an HTTP response")
    http = value.http
    body = http.body.bytes if http.body is not None and http.body.bytes is not None else b""
    if http.body is not None and http.body.string is not None:
        body = http.body.string.encode("utf-8")
    cookies = [_cookie(cookie) for cookie in http.cookies or []]
    return http_reply(http.status_code, http.headers, cookies, body)


def _cookie(cookie: messages.RpcHttpCookie) -> Cookie:
    return Cookie(
        name=cookie.name,
        value=cookie.value,
        domain=cookie.domain.value or None if cookie.domain else None,
        path=cookie.path.value or None if cookie.path else None,
        expires=cookie.expires.value.seconds if cookie.expires and cookie.expires.value else None,
        secure=bool(cookie.secure and cookie.secure.value),
        http_only=bool(cookie.http_only and cookie.http_only.value),
        same_site=int(cookie.same_site),
        max_age=cookie.max_age.value if cookie.max_age else None,
    )
