"""``funnx convert``: scikit-learn and PyTorch models → ONNX files that ``funnx new`` can serve.

Tooling only (the deployed runtime never imports it). The heavy libraries (scikit-learn, skl2onnx,
torch, pandas) load inside the functions that need them, never at import: the CLI imports this
package on every start. Modules: specs (the --input syntax), loading (what a file is), samples
(rows to check on), from_sklearn / from_torch (the converters), compare (ONNX vs original), run
(the whole command, with the atomic write).
"""
