"""funnx: turn ONNX models into Azure Functions.

Sub-packages, with one-way dependencies (cli → generator, emulator, runtime; emulator → runtime):
``runtime`` is deployed to Azure with the app; ``generator`` renders templates; ``emulator`` serves an
app locally like ``func start``; ``cli`` is the ``funnx`` command.
"""

__version__ = "0.1.0"
