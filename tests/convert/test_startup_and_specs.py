"""The CLI starts without the converters' heavy libraries, and the --input syntax parses as documented."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from framework.cli.main import COMMANDS
from framework.convert.specs import InputSpec, parse_input, parse_input_shape
from framework.errors import ConversionError

HEAVY = ["sklearn", "skl2onnx", "torch", "onnxscript", "pandas", "scipy", "joblib", "onnx"]
PROBE = "import json, sys; import framework.cli.main; print(json.dumps(sorted(sys.modules)))"


def test_cli_start_up_imports_no_converter_library() -> None:
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    )
    leaked = [name for name in HEAVY if name in loaded]
    assert leaked == []
    assert "framework.cli.convert_command" not in loaded  # commands load when they run
    assert "convert" in COMMANDS  # and it is listed all the same


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("X:float[?,4]", InputSpec("X", "float", (None, 4))),
        ("X:float[1,4]", InputSpec("X", "float", (None, 4))),  # the batch axis is always symbolic
        ("colour:string", InputSpec("colour", "string", None)),
        ("ids:int64[batch, 16]", InputSpec("ids", "int64", (None, 16))),
        ("x:FLOAT32[?, seq, 8]", InputSpec("x", "float", (None, None, 8))),
        ("scope::input:0:double[?,2]", InputSpec("scope::input:0", "double", (None, 2))),  # ':' in tensor names
    ],
)
def test_input_syntax(text: str, expected: InputSpec) -> None:
    assert parse_input(text) == expected


@pytest.mark.parametrize("text", ["X", ":float[?,4]", "X:float[]", "X:float[?,-4]", "X:text[?,1]", "X:float[?,4"])
def test_bad_input_syntax_is_refused(text: str) -> None:
    with pytest.raises(ConversionError, match="--input"):
        parse_input(text)


def test_input_shape_shorthand() -> None:
    assert parse_input_shape("1,3,224,224", 0, 1) == InputSpec("input", "float", (None, 3, 224, 224))
    assert parse_input_shape("8x16", 1, 2) == InputSpec("input_1", "float", (None, 16))
    with pytest.raises(ConversionError, match="comma-separated sizes"):
        parse_input_shape("1,3,a", 0, 1)
