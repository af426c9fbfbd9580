"""Function keys, for ``funnx start --enforce-keys``: the key checks Azure makes, with local keys.

Keys live in ``.funnx/keys.json`` in the app (git-ignored and left out of packages), created on
first use with random values: a master key, host keys and one default key per function; keys for
new functions are added as they appear. A request carries a key in the ``x-functions-key`` header
(which wins) or the ``code`` query parameter. Anonymous functions need none; function level accepts
the function's keys, host keys or the master key; admin level only the master key.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framework.errors import EmulatorError

KEYS_FILE = Path(".funnx") / "keys.json"


def _new_key() -> str:
    return secrets.token_urlsafe(40)


@dataclass
class FunctionKeys:
    master: str
    host: dict[str, str]
    functions: dict[str, dict[str, str]]

    def as_dict(self) -> dict[str, Any]:
        return {"masterKey": self.master, "hostKeys": self.host, "functionKeys": self.functions}

    def authorized(self, level: str, function: str, given: str) -> bool:
        """Whether key ``given`` opens a function of ``level`` (anonymous needs none)."""
        if level == "anonymous":
            return True
        accepted = [self.master]
        if level == "function":
            accepted += [*self.host.values(), *self.functions.get(function, {}).values()]
        return any(hmac.compare_digest(given.encode(), key.encode()) for key in accepted)


def load_keys(app_dir: Path, function_names: Iterable[str]) -> FunctionKeys:
    """The app's keys, creating the file or adding keys for new functions as needed."""
    path = app_dir / KEYS_FILE
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as err:
            raise EmulatorError(f"{path} is not readable JSON ({err}); delete it to get new keys") from None
    keys = FunctionKeys(
        master=str(data.get("masterKey") or _new_key()),
        host={str(k): str(v) for k, v in dict(data.get("hostKeys") or {"default": _new_key()}).items()},
        functions={
            str(f): {str(k): str(v) for k, v in dict(ks).items()}
            for f, ks in dict(data.get("functionKeys") or {}).items()
        },
    )
    for name in function_names:
        keys.functions.setdefault(name, {"default": _new_key()})
    if keys.as_dict() != data:
        _save(path, keys)
    return keys


def _save(path: Path, keys: FunctionKeys) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(keys.as_dict(), indent=2) + "\n", encoding="utf-8")
    partial.chmod(0o600)
    partial.replace(path)
