"""Per-model OpenTelemetry metrics and spans: on when an exporter is configured, free when not.

Decided once per process, at first use (settings are read then, never at import):

- ``APPLICATIONINSIGHTS_CONNECTION_STRING`` set → Azure Monitor's distro (``azure-monitor-opentelemetry``);
- ``OTEL_EXPORTER_OTLP_ENDPOINT`` set → OTLP over HTTP/protobuf (the SDK's exporter reads the standard
  ``OTEL_*`` variables: headers, service name, resource attributes);
- both → both, as the Functions host does with ``"telemetryMode": "OpenTelemetry"``;
- neither → off: no ``opentelemetry`` module is imported and every hook below returns at once.

A configured exporter whose package is missing is logged once and leaves telemetry off; requests
never fail because of telemetry. Spans are ``INTERNAL``: the HTTP server span is the host's (Azure's
Functions host, or the emulator), and funnx's spans nest under whatever context the worker makes
current. Instruments carry ``funnx.model``; names and attributes are in docs/telemetry.md.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

log = logging.getLogger("funnx.runtime")
H = TypeVar("H", bound=Callable[..., Any])

APPINSIGHTS_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
OTLP_SETTING = "OTEL_EXPORTER_OTLP_ENDPOINT"
MODEL = "funnx.model"
CONTRACT = "funnx.contract"
STATUS = "http.response.status_code"


_UNDECIDED: Any = object()
_instruments: Any = _UNDECIDED  # None when off, an _Instruments when on
_deciding = threading.Lock()


def _get() -> _Instruments | None:
    """The instruments, or None when telemetry is off; the first call decides, once per process."""
    if _instruments is not _UNDECIDED:
        return _instruments  # type: ignore[no-any-return]
    with _deciding:
        if _instruments is _UNDECIDED:
            _decide()
    return _instruments  # type: ignore[no-any-return]


def _decide() -> None:
    """Set ``_instruments`` once, after setup finishes: until then other threads wait on the lock in _get."""
    global _instruments  # noqa: PLW0603 - the once-per-process decision
    _instruments = _turn_on()


def _turn_on() -> _Instruments | None:
    appinsights, otlp = os.environ.get(APPINSIGHTS_SETTING), os.environ.get(OTLP_SETTING)
    if not appinsights and not otlp:
        return None
    setting = APPINSIGHTS_SETTING if appinsights else OTLP_SETTING
    try:
        from . import telemetry_setup

        meter, tracer = telemetry_setup.configure(appinsights=bool(appinsights), otlp=bool(otlp))
        return _Instruments(meter, tracer)
    except ImportError as err:
        wanted = "azure-monitor-opentelemetry" if appinsights else "opentelemetry-exporter-otlp-proto-http"
        log.info(  # App Insights is often set for the host's own logs alone: not a problem to warn about
            "funnx telemetry is off: %s is set but %s cannot be imported (%s); to export per-model metrics "
            "and spans, add it to requirements.txt (see funnx init --telemetry)", setting, wanted, err,
        )  # fmt: skip
    except Exception as err:  # a malformed setting must not fail requests: serve without telemetry
        log.warning("funnx telemetry is off: the exporter for %s could not be set up: %s", setting, err)
    return None


class _Instruments:
    """The meters and the tracer, made once when telemetry turns on."""

    def __init__(self, meter: Any, tracer: Any) -> None:
        from opentelemetry import trace

        self.trace = trace
        self.tracer = tracer
        self.requests = meter.create_counter("funnx.requests", "{request}", "Prediction requests answered")
        self.request_duration = meter.create_histogram("funnx.request.duration", "s", "Prediction request time")
        self.run_duration = meter.create_histogram("funnx.session_run.duration", "s", "onnxruntime session.run time")
        self.load_duration = meter.create_histogram("funnx.model.load.duration", "s", "Model load time")
        self.cache = meter.create_counter("funnx.model.cache", "{lookup}", "Blob cache lookups by result")
        self.batch_size = meter.create_histogram("funnx.batch.size", "{request}", "Requests merged into one run")
        self.batch_wait = meter.create_histogram("funnx.batch.queue_wait", "s", "Longest queue wait in one run")

    def handle(self, contract: str, handler: Callable[..., Any], args: tuple[Any, ...], kwargs: Any) -> Any:
        req, model = args[0], args[1]
        attributes = {MODEL: model.name, CONTRACT: contract}
        started = time.perf_counter()
        with self.tracer.start_as_current_span(
            "funnx.predict", kind=self.trace.SpanKind.INTERNAL, attributes={**attributes,
            "http.request.method": getattr(req, "method", "POST")}, record_exception=False,
            set_status_on_exception=False,
        ) as span:  # fmt: skip
            status = 500  # what the worker answers if the handler raises after all
            try:
                # Both contracts' handlers answer their errors themselves (responses.answers_errors), so
                # the status recorded is the one the client gets.
                response = handler(*args, **kwargs)
                status = int(response.status_code)
                return response
            finally:
                span.set_attribute(STATUS, status)
                if status >= 500:  # semantic conventions: a 4xx is the client's error, not the server's
                    span.set_status(self.trace.StatusCode.ERROR)
                measured = {**attributes, STATUS: status}
                self.requests.add(1, measured)
                self.request_duration.record(time.perf_counter() - started, measured)

    def past_span(self, name: str, model: str, started: float, seconds: float, **attributes: Any) -> None:
        """A span for work already done (its start taken from ``time.perf_counter()``)."""
        end_ns = time.time_ns() - int((time.perf_counter() - started - seconds) * 1e9)
        start_ns = end_ns - int(seconds * 1e9)
        span = self.tracer.start_span(name, start_time=start_ns, attributes={MODEL: model, **attributes})
        span.end(end_time=end_ns)


def instrumented(contract: str) -> Callable[[H], H]:
    """Decorate a prediction handler ``(req, model, ...)``: a ``funnx.predict`` span, the request counter
    and duration. Off, the wrapper adds one call that reads a global to the request."""

    def decorate(handler: H) -> H:
        @functools.wraps(handler)
        def measured(*args: Any, **kwargs: Any) -> Any:
            instruments = _get()
            if instruments is None:
                return handler(*args, **kwargs)
            return instruments.handle(contract, handler, args, kwargs)

        return cast(H, measured)

    return decorate


def record_run(model: str, started: float, seconds: float) -> None:
    """One ``session.run`` that began at ``started`` (``time.perf_counter()``) and took ``seconds``."""
    instruments = _get()
    if instruments is None:
        return
    instruments.run_duration.record(seconds, {MODEL: model})
    instruments.past_span("funnx.session.run", model, started, seconds)


def record_load(model: str, started: float, seconds: float, cache: str) -> None:
    """One model load; ``cache`` is ``hit`` or ``miss`` (blob sources) or ``local`` (a file of the app)."""
    instruments = _get()
    if instruments is None:
        return
    instruments.load_duration.record(seconds, {MODEL: model, "funnx.cache": cache})
    if cache != "local":
        instruments.cache.add(1, {MODEL: model, "funnx.cache": cache})
    instruments.past_span("funnx.model.load", model, started, seconds, **{"funnx.cache": cache})


def record_batch(model: str, size: int, queue_wait_s: float) -> None:
    """One batched run of ``size`` requests, the oldest of which waited ``queue_wait_s`` in the queue
    (called by the batching engine's statistics, :class:`.batching.BatchStats`)."""
    instruments = _get()
    if instruments is None:
        return
    instruments.batch_size.record(size, {MODEL: model})
    instruments.batch_wait.record(queue_wait_s, {MODEL: model})


def enabled() -> bool:
    """Whether this process exports telemetry (decides now if nothing has yet)."""
    return _get() is not None


def flush(timeout_s: float = 10.0) -> None:
    """Export everything recorded so far (tests; a host about to stop); a no-op when off."""
    if _get() is None:
        return
    from . import telemetry_setup

    telemetry_setup.flush(timeout_s)
