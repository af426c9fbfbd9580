"""The one Jinja environment: strict about undefined variables, and emitting Python values as literals.

Templates only interpolate. Anything placed into Python source goes through the ``py`` filter
(``repr`` of a str/None/bool/int), so no name, route or URI can inject code; comment text goes
through ``comment``, which refuses line breaks. Bicep gets the same care: every value placed in a
template goes through ``bicep`` (a single-quoted Bicep string literal), JSON through ``json``.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from framework.errors import FunnxError


def templates_dir() -> Path:
    """./templates in a source checkout; the copy inside the package when installed from a wheel."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package.parent / "templates", package / "_templates"):
        if candidate.is_dir():
            return candidate
    raise FunnxError(f"funnx templates not found next to {package}; reinstall funnx")


def py_literal(value: Any) -> str:
    """``repr`` (always a valid literal), preferring double quotes when that needs no escaping.

    Lists of literals are rendered item by item.
    """
    if isinstance(value, str):
        text = repr(value)
        return f'"{text[1:-1]}"' if text.startswith("'") and '"' not in value else text
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(py_literal(item) for item in value) + "]"
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"refusing to render {type(value).__name__} into Python source")


def comment(line: str) -> str:
    """A ``#`` comment line; characters that are not printable (newlines, NUL...) are shown escaped."""
    safe = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in line)
    return f"# {safe}".rstrip()


def yaml_string(value: str) -> str:
    """A double-quoted YAML scalar (JSON's string syntax is valid YAML), so no value breaks the file."""
    return json.dumps(str(value))


#: Escape sequences of Bicep string literals; other control characters are written as ``\u{hex}``.
_BICEP_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def bicep_string(value: str) -> str:
    """A single-quoted Bicep string literal of ``value``.

    ``\\`` and ``'`` are escaped, and so is the ``${`` that would start an interpolation, so no value
    can end the string early or splice an expression into the template.
    """
    if not isinstance(value, str):
        raise TypeError(f"refusing to render {type(value).__name__} as a Bicep string")
    text = "".join(_BICEP_ESCAPES.get(ch) or (f"\\u{{{ord(ch):X}}}" if ord(ch) < 32 else ch) for ch in value)
    return "'" + text.replace("${", "\\${") + "'"


def json_value(value: Any) -> str:
    """A JSON literal (strings, numbers, booleans, null, lists and objects of them)."""
    return json.dumps(value)


def github_expression(expression: str) -> str:
    """``${{ expression }}`` for GitHub Actions, which Jinja's own braces would otherwise swallow."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", expression):
        raise ValueError(f"unexpected GitHub expression {expression!r}")
    return "${{ " + expression + " }}"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # we render Python, JSON and text, never HTML
    )
    env.filters["py"] = py_literal
    env.filters["comment"] = comment
    env.filters["yaml"] = yaml_string
    env.filters["bicep"] = bicep_string
    env.filters["json"] = json_value
    env.globals["gha"] = github_expression
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
