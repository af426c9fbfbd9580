"""Telemetry end to end: `funnx start` exporting OTLP/HTTP to a real receiver on loopback.

The receiver decodes what it gets with opentelemetry-proto's own message classes, so the test sees
what a collector would: metric and span names, the model attribute, counts.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import AzuriteService, funnx_start, run_cli
from tests.models import iris_path

IRIS_ROWS = [[5.1, 3.5], [1.4, 0.2], [6.3, 3.3]]  # logreg_iris.onnx takes a fixed [3, 2] input


class Receiver:
    """An OTLP/HTTP receiver: POST /v1/metrics and /v1/traces, protobuf bodies, kept as decoded messages.
    Also Application Insights' ingestion endpoint: POST /v2.1/track, JSON envelopes."""

    def __init__(self) -> None:
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.traces: list[ExportTraceServiceRequest] = []
        self.envelopes: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path == "/v1/metrics":
                    receiver.metrics.append(ExportMetricsServiceRequest.FromString(body))
                elif self.path == "/v1/traces":
                    receiver.traces.append(ExportTraceServiceRequest.FromString(body))
                elif self.path.endswith("/v2.1/track"):
                    envelopes = json.loads(body)
                    receiver.envelopes += envelopes
                    answer = {"itemsReceived": len(envelopes), "itemsAccepted": len(envelopes), "errors": []}
                    self._reply(json.dumps(answer).encode(), "application/json")
                    return
                elif "QuickPulseService.svc" in self.path:  # live metrics: say nobody is watching
                    self._reply(b"false", "application/json")
                    return
                else:
                    self.send_error(404)
                    return
                self._reply(b"", "application/x-protobuf")

            def _reply(self, body: bytes, content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        """The last export's data points of metric ``name`` as (attributes, point): metrics are cumulative."""
        found: list[tuple[dict[str, Any], Any]] = []
        for request in self.metrics[-1:]:
            for resource in request.resource_metrics:
                for scope in resource.scope_metrics:
                    for metric in scope.metrics:
                        if metric.name == name:
                            data = metric.sum if metric.HasField("sum") else metric.histogram
                            found += [(_attributes(point.attributes), point) for point in data.data_points]
        return found

    def spans(self) -> list[Any]:
        return [
            span
            for request in self.traces
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]


def _attributes(pairs: Any) -> dict[str, Any]:
    out = {}
    for pair in pairs:
        value = pair.value
        out[pair.key] = getattr(value, value.WhichOneof("value"))
    return out


@contextmanager
def otlp_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join()


@pytest.fixture
def no_exporters(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("APPLICATIONINSIGHTS_CONNECTION_STRING", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_exporters")
def test_funnx_start_exports_per_model_metrics_and_spans_over_otlp(
    app_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("new", "iris", "--model", iris_path(), "--app", app_dir).exit_code == 0
    with otlp_receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "iris-app")
        with funnx_start(app_dir, "--port", "0", "--quiet") as (url, _), httpx.Client(base_url=url, timeout=60) as http:
            for _ in range(3):
                assert http.post("/api/iris", json={"data": IRIS_ROWS}).status_code == 200
            assert http.post("/api/iris", json={"data": "not an array"}).status_code == 400
            infer = {"inputs": [{"name": "float_input", "shape": [3, 2], "datatype": "FP32", "data": IRIS_ROWS}]}
            assert http.post("/api/v2/models/iris/infer", json=infer).status_code == 200
        # stopping the server shuts the SDK down, which exports what is left

    requests = {(a["funnx.contract"], a["http.response.status_code"]): p.as_int for a, p in
                receiver.points("funnx.requests") if a["funnx.model"] == "iris"}  # fmt: skip
    assert requests == {("simple", 200): 3, ("simple", 400): 1, ("oip", 200): 1}
    durations = receiver.points("funnx.request.duration")
    assert sum(p.count for a, p in durations if a["funnx.model"] == "iris") == 5
    runs = receiver.points("funnx.session_run.duration")
    assert [(a, p.count) for a, p in runs] == [({"funnx.model": "iris"}, 4)]  # the 400 never ran
    loads = receiver.points("funnx.model.load.duration")
    assert [(a, p.count) for a, p in loads] == [({"funnx.model": "iris", "funnx.cache": "local"}, 1)]
    assert receiver.points("funnx.model.cache") == []  # a local file: no blob cache lookup

    spans = receiver.spans()
    predicts = [span for span in spans if span.name == "funnx.predict"]
    assert len(predicts) == 5
    run_spans = [span for span in spans if span.name == "funnx.session.run"]
    assert len(run_spans) == 4
    assert {span.parent_span_id for span in run_spans} <= {span.span_id for span in predicts}
    assert all(predict.start_time_unix_nano <= run.start_time_unix_nano and run.end_time_unix_nano <=
               predict.end_time_unix_nano for run in run_spans for predict in predicts
               if predict.span_id == run.parent_span_id)  # fmt: skip
    bad = next(span for span in predicts if _attributes(span.attributes)["http.response.status_code"] == 400)
    assert _attributes(bad.attributes)["funnx.model"] == "iris"
    service = {_attributes(r.resource.attributes)["service.name"] for r in receiver.traces[0].resource_spans}
    assert service == {"iris-app"}


@pytest.mark.usefixtures("no_exporters")
def test_application_insights_and_otlp_both_get_the_telemetry(app_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With both settings (as the host in OpenTelemetry mode), Azure Monitor's distro carries both exporters.
    Application Insights' ingestion endpoint is the loopback receiver, named in the connection string."""
    assert run_cli("new", "iris", "--model", iris_path(), "--app", app_dir).exit_code == 0
    with otlp_receiver() as receiver:
        key = str(uuid.uuid4())  # the exporter keeps unsent telemetry on disk per key, and sends it on a later start
        monkeypatch.setenv("TMPDIR", str(app_dir.parent))  # ... in the temp folder: keep it to this test
        connection = f"InstrumentationKey={key};IngestionEndpoint={receiver.url}/;LiveEndpoint={receiver.url}/"
        monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", connection)
        monkeypatch.setenv("APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL", "true")  # no calls to Microsoft's own endpoint
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")  # the distro's default keeps 5 traces a second
        with funnx_start(app_dir, "--port", "0", "--quiet") as (url, _), httpx.Client(base_url=url, timeout=60) as http:
            for _ in range(2):
                assert http.post("/api/iris", json={"data": IRIS_ROWS}).status_code == 200

    dependencies = [e["data"]["baseData"] for e in receiver.envelopes if e["name"].endswith("RemoteDependency")]
    predicts = [d for d in dependencies if d["name"] == "funnx.predict"]
    assert len(predicts) == 2 and all(d["properties"]["funnx.model"] == "iris" for d in predicts)
    runs = [d for d in dependencies if d["name"] == "funnx.session.run"]
    assert len(runs) == 2, [(d["id"], d.get("properties"), d.get("duration")) for d in dependencies]
    counted = [
        (metric["value"], e["data"]["baseData"].get("properties", {}))
        for e in receiver.envelopes
        if e["name"].endswith("Metric")
        for metric in e["data"]["baseData"]["metrics"]
        if metric["name"] == "funnx.requests"
    ]
    assert sum(value for value, properties in counted if properties.get("funnx.model") == "iris") == 2
    requests = {a["http.response.status_code"]: p.as_int for a, p in receiver.points("funnx.requests")}
    assert requests == {200: 2}  # and the same through OTLP
    assert len([span for span in receiver.spans() if span.name == "funnx.predict"]) == 2


@pytest.mark.storage
@pytest.mark.usefixtures("no_exporters")
def test_blob_cache_miss_then_hit_across_worker_restarts(
    app_dir: Path, azurite: AzuriteService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first worker downloads the blob (a miss); the next finds it in the model cache (a hit)."""
    container = azurite.container()
    azurite.upload(container, "iris.onnx", iris_path().read_bytes())
    assert run_cli("new", "iris", "--model", f"az://{container}/iris.onnx", "--app", app_dir).exit_code == 0
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    seen = []
    for _ in range(2):
        with otlp_receiver() as receiver:
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
            with funnx_start(app_dir, "--port", "0", "--quiet") as (url, _):
                assert httpx.post(f"{url}/api/iris", json={"data": IRIS_ROWS}, timeout=60).status_code == 200
        lookups = {(a["funnx.model"], a["funnx.cache"]): p.as_int for a, p in receiver.points("funnx.model.cache")}
        loads = [(a["funnx.cache"], p.count) for a, p in receiver.points("funnx.model.load.duration")]
        spans = [_attributes(s.attributes)["funnx.cache"] for s in receiver.spans() if s.name == "funnx.model.load"]
        seen.append((lookups, loads, spans))
    assert seen == [
        ({("iris", "miss"): 1}, [("miss", 1)], ["miss"]),
        ({("iris", "hit"): 1}, [("hit", 1)], ["hit"]),
    ]


BATCH_PROBE = """
from framework.runtime import telemetry
from framework.runtime.batching import BatchStats
stats = BatchStats("iris")  # what the batching engine records each run into: size, rows, each request's wait (ms)
stats.record(4, 4, [2.0, 1.0, 0.5, 0.0], False)
stats.record(2, 2, [1.0, 0.2], False)
telemetry.flush()
"""


@pytest.mark.usefixtures("no_exporters")
def test_batches_are_recorded_per_model() -> None:
    """What the batching engine reports when it merges requests: sizes and the longest queue wait of each
    batch, per model."""
    with otlp_receiver() as receiver:
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
        subprocess.run([sys.executable, "-c", BATCH_PROBE], env=env, check=True, timeout=60)
    [(attributes, sizes)] = receiver.points("funnx.batch.size")
    assert attributes == {"funnx.model": "iris"} and (sizes.count, sizes.sum) == (2, 6)
    [(_, waits)] = receiver.points("funnx.batch.queue_wait")
    assert waits.count == 2 and waits.sum == pytest.approx(0.003)


OFF_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import azure.functions as func
import function_app
from framework.runtime import telemetry
predict = next(f for f in function_app.app.get_functions() if f.get_function_name() == "iris")
request = func.HttpRequest("POST", "http://localhost/api/iris", body=b'{"data": [[5.1, 3.5], [1.4, 0.2], [6.3, 3.3]]}')
answer = predict.get_user_function()(request)
print(json.dumps([answer.status_code, telemetry.enabled(), sorted(sys.modules)]))
"""


@pytest.mark.usefixtures("no_exporters")
def test_with_no_exporter_set_a_prediction_imports_no_opentelemetry(app_dir: Path) -> None:
    assert run_cli("new", "iris", "--model", iris_path(), "--app", app_dir).exit_code == 0
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", OFF_PROBE, str(app_dir)], capture_output=True, text=True, check=True, cwd=repo
    ).stdout
    status, enabled, loaded = json.loads(out)
    assert status == 200 and enabled is False
    assert [m for m in loaded if m.startswith(("opentelemetry", "azure.monitor", "framework.runtime.telemetry_"))] == []


def test_init_telemetry_lists_the_exporters_at_the_tested_versions(tmp_path: Path) -> None:
    """`funnx init --telemetry` puts the exporters in requirements.txt, at the versions constraints.txt tests."""
    assert run_cli("init", tmp_path / "plain").exit_code == 0
    assert "opentelemetry" not in (tmp_path / "plain" / "requirements.txt").read_text()
    assert run_cli("init", tmp_path / "app", "--telemetry").exit_code == 0
    listed = [line for line in (tmp_path / "app" / "requirements.txt").read_text().splitlines() if "==" in line]
    constraints = (Path(__file__).resolve().parents[2] / "constraints.txt").read_text().splitlines()
    exporters = [line for line in listed if "opentelemetry" in line]
    assert sorted(exporters) == [
        "azure-monitor-opentelemetry==1.8.11",
        "opentelemetry-exporter-otlp-proto-http==1.45.1",
    ]
    assert set(exporters) <= set(constraints)


@pytest.mark.usefixtures("no_exporters")
def test_a_malformed_connection_string_leaves_telemetry_off_and_requests_served(app_dir: Path) -> None:
    assert run_cli("new", "iris", "--model", iris_path(), "--app", app_dir).exit_code == 0
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", OFF_PROBE, str(app_dir)], capture_output=True, text=True, check=True, cwd=repo,
        env={**os.environ, "APPLICATIONINSIGHTS_CONNECTION_STRING": "not a connection string"},
    )  # fmt: skip
    status, enabled, _ = json.loads(done.stdout)
    assert (status, enabled) == (200, False)
    assert "funnx telemetry is off: the exporter for APPLICATIONINSIGHTS_CONNECTION_STRING" in done.stderr
