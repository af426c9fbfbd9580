"""Turning telemetry on: the exporters, imported only when an exporter setting is set (see telemetry.py).

Application Insights goes through Azure Monitor's distro (``configure_azure_monitor``, which reads
``APPLICATIONINSIGHTS_CONNECTION_STRING`` itself); OTLP through the SDK's HTTP/protobuf exporters,
which read ``OTEL_EXPORTER_OTLP_*``. With both set, the distro also carries the OTLP exporters. Global
providers already installed by someone else (the Python worker when
``PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY`` is true, or the app's own code) are used as they are,
never configured twice.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry import metrics, trace

_providers: list[Any] = []  # what force_flush() flushes: the providers in use


def configure(*, appinsights: bool, otlp: bool) -> tuple[Any, Any]:
    """Install the exporters; the (meter, tracer) funnx records with. Raises ImportError when the
    configured exporter's package is missing."""
    if _sdk_installed():
        pass  # the worker (PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY) or the app configured it: use that
    elif appinsights:
        from azure.monitor.opentelemetry import configure_azure_monitor

        readers, processors = _otlp() if otlp else ([], [])
        configure_azure_monitor(metric_readers=readers, span_processors=processors)
    elif otlp:
        readers, processors = _otlp()
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        resource = Resource.create({"service.name": _service_name()})
        tracer_provider = TracerProvider(resource=resource)
        for processor in processors:
            tracer_provider.add_span_processor(processor)
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
    _providers[:] = [trace.get_tracer_provider(), metrics.get_meter_provider()]
    from framework import __version__

    return metrics.get_meter("funnx", __version__), trace.get_tracer("funnx", __version__)


def _otlp() -> tuple[list[Any], list[Any]]:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return [PeriodicExportingMetricReader(OTLPMetricExporter())], [BatchSpanProcessor(OTLPSpanExporter())]


def _sdk_installed() -> bool:
    """Whether real providers are already global (the app configured OpenTelemetry itself)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def _service_name() -> str:
    """OTEL_SERVICE_NAME wins (Resource.create reads it); else the function app's name in Azure."""
    return os.environ.get("OTEL_SERVICE_NAME") or os.environ.get("WEBSITE_SITE_NAME") or "funnx"


def flush(timeout_s: float) -> None:
    for provider in _providers:
        force_flush = getattr(provider, "force_flush", None)
        if force_flush is not None:
            force_flush(int(timeout_s * 1000))
