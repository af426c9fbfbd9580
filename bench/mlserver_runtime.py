"""An onnxruntime inference runtime for MLServer, written the way MLServer's own runtimes are.

Imported by MLServer in its own virtualenv (.venv-mlserver, see bench/mlserver_env.py), never by
funnx: ``load`` opens an InferenceSession on the model file named by ``parameters.uri``;
``predict`` decodes every request input with MLServer's NumpyCodec, runs the session, and encodes
each output with the same codec. With adaptive batching on, MLServer has already concatenated the
queued requests along the first axis before ``predict`` and splits the outputs afterwards.
"""

from __future__ import annotations

from typing import Any

import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri


class OnnxRuntime(MLModel):  # type: ignore[misc]  # mlserver ships no type information to mypy here
    async def load(self) -> bool:
        path = await get_model_uri(self.settings)
        self._session: Any = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self._outputs = [output.name for output in self._session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        feeds = {request_input.name: NumpyCodec.decode_input(request_input) for request_input in payload.inputs}
        results = self._session.run(None, feeds)
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[
                NumpyCodec.encode_output(name, result) for name, result in zip(self._outputs, results, strict=True)
            ],
        )
