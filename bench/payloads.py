"""The request bodies of the batching section, one per wire format, all carrying the same tensor.

- ``json``: funnx's simple contract, ``{"data": [[...]]}``.
- ``oip-json``: an Open Inference Protocol request with the tensor as a flat JSON list (what MLServer reads).
- ``binary``: the Open Inference Protocol with Triton's binary tensor extension, made by tritonclient's
  own ``generate_request_body`` (binary input, binary output requested), so it is byte for byte what
  a tritonclient user sends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import tritonclient.http as triton

from framework.runtime.oip_codec import HEADER_LENGTH


@dataclass(frozen=True)
class Payload:
    body: bytes
    headers: dict[str, str]


def simple_json(array: np.ndarray[Any, Any]) -> Payload:
    return Payload(json.dumps({"data": array.tolist()}).encode(), {"Content-Type": "application/json"})


def oip_json(input_name: str, array: np.ndarray[Any, Any]) -> Payload:
    tensor = {"name": input_name, "shape": list(array.shape), "datatype": "FP32", "data": array.ravel().tolist()}
    request = {"inputs": [tensor]}
    return Payload(json.dumps(request).encode(), {"Content-Type": "application/json"})


def oip_binary(input_name: str, output_name: str, array: np.ndarray[Any, Any]) -> Payload:
    tensor = triton.InferInput(input_name, list(array.shape), "FP32")
    tensor.set_data_from_numpy(array, binary_data=True)
    body, header_length = triton.InferenceServerClient.generate_request_body(
        [tensor], outputs=[triton.InferRequestedOutput(output_name, binary_data=True)]
    )
    headers = {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(header_length)}
    return Payload(bytes(body), headers)
