"""Open Inference Protocol bodies decoded against a model signature, without an app."""

from __future__ import annotations

import numpy as np
import pytest

from framework.errors import BadRequest
from framework.runtime.oip_codec import parse_infer_request
from framework.runtime.signature import ModelSignature, TensorSpec

TEXT = ModelSignature(inputs=(TensorSpec("s", "tensor(string)", (1,), np.dtype(object)),), outputs=())


def test_a_raw_body_for_a_string_input_must_be_utf8() -> None:
    """Found by fuzzing: a raw (Inference-Header-Content-Length: 0) body that is not UTF-8 was a 500."""
    assert parse_infer_request("hé".encode(), "0", TEXT, "text").inputs["s"].tolist() == ["hé"]
    with pytest.raises(BadRequest, match="input 's' holds text: a raw body for it must be UTF-8"):
        parse_infer_request(b"\xff\xfe", "0", TEXT, "text")
