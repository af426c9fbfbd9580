"""Tests for the iris function, written by `funnx new`.

They use funnx's pytest plugin: `funnx_app.client` calls the app in-process and
`funnx_app.url` serves it over HTTP; blob models are read from a local Azurite that
`funnx_upload(model_file, "az://container/blob")` fills. Edit them as the function grows.
"""

ROUTE = "/api/iris"
SOURCE = "az://models/iris.onnx"


def test_iris_refuses_malformed_json(funnx_app):
    reply = funnx_app.client.post(ROUTE, data=b"{not json")
    assert reply.status_code == 400
    assert "not valid JSON" in reply.json()["error"]


def test_iris_reads_its_model_from_blob_storage(funnx_app):
    # The test's Azurite starts empty, so the function answers 503 naming its source.
    # To test predictions, upload the model first:
    #     funnx_upload("path/to/model.onnx", SOURCE)
    reply = funnx_app.client.post(ROUTE, json={"data": []})
    assert reply.status_code == 503
    assert SOURCE in reply.json()["error"]
