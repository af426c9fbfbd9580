"""The anonymous app-wide routes load no model and name none that sits behind a key; the OpenAPI
document, which describes (and so loads) every model, needs a key like the models do."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.emulator import TestClient
from tests.conftest import run_cli
from tests.models import add_one, iris_path


@pytest.fixture
def app(app_dir: Path) -> Path:
    add_one(app_dir / "models" / "public.onnx")
    (app_dir / "models" / "secret.onnx").write_bytes(iris_path().read_bytes())
    for name, level in (("public", "anonymous"), ("secret", "function")):
        model = app_dir / "models" / f"{name}.onnx"
        assert run_cli("new", name, "--model", model, "--auth-level", level, "--app", app_dir).exit_code == 0
    (app_dir / "functions_app" / "secret.py").write_text(
        (app_dir / "functions_app" / "secret.py").read_text().replace("warmup=False", "warmup=True")
    )
    return app_dir


def test_anonymous_routes_load_nothing_and_name_only_public_models(app: Path) -> None:
    with TestClient(app) as client:
        models = client.host.catalog.models()
        missing = client.get("/api/v2/models/nope")
        assert missing.status_code == 404
        assert missing.json() == {"error": "model 'nope' not found; models served without a key: public"}
        ready = client.get("/api/v2/health/ready")  # `secret` warms up in the background; it is not named
        if ready.status_code == 503:
            assert "secret" not in ready.text and "1 model(s) behind keys" in ready.json()["error"]
        for path in ("/api/v2", "/api/v2/health/live", "/api/v2/models/nope/infer"):
            assert "secret" not in client.get(path).text
        assert models["public"].state == "idle"  # nothing anonymous loaded it


def test_the_openapi_document_needs_a_key_and_describes_every_model(app: Path) -> None:
    with TestClient(app) as client:
        listed = {f.name: f.auth_level for f in client.host.functions}
        assert listed["funnx_openapi"] == "function" and listed["funnx_v2"] == "anonymous"
        document = client.get("/api/openapi.json").json()  # keys are not enforced locally, like func start
        assert {"/public", "/secret"} <= set(document["paths"])
        assert "security" not in document["paths"]["/public"]["post"]
        assert document["paths"]["/secret"]["post"]["security"]
