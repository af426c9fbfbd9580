"""The ``funnx`` command: thin click commands that parse, call the generator or emulator, and print."""
