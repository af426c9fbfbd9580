"""ASP.NET Core-style route templates, as the Functions host matches them.

Supported: literal segments (case-insensitive), ``{name}``, optional ``{name?}``, defaults
``{name=value}``, catch-all ``{*rest}``, complex segments such as ``{file}.{ext}``, escaped braces
``{{``/``}}``, and constraints (``int long bool alpha guid double float decimal datetime required
minlength(n) maxlength(n) length(n|a,b) min(n) max(n) range(a,b) regex(expr)``), chained as
``{id:int:min(1)}``. Values reach functions as strings. Routes are tried in ASP.NET's inbound
precedence order, segment by segment: literal (1), constrained or multi-part (2), plain parameter (3,
optional or not), constrained catch-all (4), catch-all (5).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from framework.errors import EmulatorError

Check = Callable[[str], bool]
Target = TypeVar("Target")


def _integer(bits: int) -> Check:
    def check(value: str) -> bool:
        return re.fullmatch(r"[+-]?\d+", value) is not None and -(2 ** (bits - 1)) <= int(value) < 2 ** (bits - 1)

    return check


def _number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


_SIMPLE: dict[str, Check] = {
    "int": _integer(32),
    "long": _integer(64),
    "bool": lambda v: v.lower() in ("true", "false"),
    "alpha": lambda v: re.fullmatch(r"[A-Za-z]+", v) is not None,
    "guid": _guid,
    "double": _number,
    "float": _number,
    "decimal": _number,
    "datetime": _datetime,
    "required": lambda v: v != "",
}


def _with_args(name: str, args: list[str], template: str) -> Check:
    try:
        if name == "regex":
            pattern = re.compile(",".join(args), re.IGNORECASE)
            return lambda v: pattern.search(v) is not None
        numbers = [int(a) for a in args]
    except (ValueError, re.error) as err:
        raise EmulatorError(f"route {template!r}: bad argument for constraint '{name}': {err}") from None
    long_value = _integer(64)
    arity = {"minlength": 1, "maxlength": 1, "min": 1, "max": 1, "range": 2}
    if name == "length" and len(numbers) in (1, 2):
        low, high = (numbers[0], numbers[0]) if len(numbers) == 1 else (numbers[0], numbers[1])
        return lambda v: low <= len(v) <= high
    if arity.get(name) != len(numbers):
        raise EmulatorError(f"route {template!r}: constraint '{name}' takes {arity.get(name, '1 or 2')} argument(s)")
    n = numbers
    checks: dict[str, Check] = {
        "minlength": lambda v: len(v) >= n[0],
        "maxlength": lambda v: len(v) <= n[0],
        "min": lambda v: long_value(v) and int(v) >= n[0],
        "max": lambda v: long_value(v) and int(v) <= n[0],
        "range": lambda v: long_value(v) and n[0] <= int(v) <= n[1],
    }
    return checks[name]


@dataclass
class _Param:
    name: str
    checks: list[Check] = field(default_factory=list)
    optional: bool = False
    catch_all: bool = False
    default: str | None = None


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split at ``separator`` outside parentheses (constraint arguments may contain it)."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _parse_param(text: str, template: str) -> _Param:
    catch_all = text.startswith("*")
    text = text.lstrip("*")
    pieces = _split_top_level(text, ":")
    last = pieces[-1]
    default = None
    head, eq, tail = last.partition("=") if "(" not in last else (last, "", "")
    if eq:
        pieces[-1], default = head, tail
    optional = pieces[-1].endswith("?")
    if optional:
        pieces[-1] = pieces[-1][:-1]
    name = pieces[0]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise EmulatorError(f"route {template!r}: invalid parameter name {name!r}")
    param = _Param(name=name, optional=optional, catch_all=catch_all, default=default)
    for constraint in pieces[1:]:
        match = re.fullmatch(r"([A-Za-z]+)(?:\((.*)\))?", constraint, re.DOTALL)
        if not match:
            raise EmulatorError(f"route {template!r}: cannot read constraint {constraint!r}")
        cname, args = match.group(1).lower(), match.group(2)
        if args is None and cname in _SIMPLE:
            param.checks.append(_SIMPLE[cname])
        elif args is not None and (cname in ("regex", "length", "minlength", "maxlength", "min", "max", "range")):
            param.checks.append(_with_args(cname, [args] if cname == "regex" else args.split(","), template))
        else:
            raise EmulatorError(f"route {template!r}: unknown route constraint {constraint!r}")
    return param


def _tokens(segment: str, template: str) -> list[str | _Param]:
    """A segment as literal strings and parameters, honouring ``{{`` and ``}}`` escapes."""
    tokens: list[str | _Param] = []
    literal: list[str] = []
    i = 0
    while i < len(segment):
        ch = segment[i]
        if segment.startswith("{{", i) or segment.startswith("}}", i):
            literal.append(ch)
            i += 2
        elif ch == "{":
            end, inner = i + 1, []
            while end < len(segment) and not (segment[end] == "}" and not segment.startswith("}}", end)):
                step = 2 if segment.startswith(("}}", "{{"), end) else 1
                inner.append(segment[end])
                end += step
            if end >= len(segment):
                raise EmulatorError(f"route {template!r}: unclosed '{{' in segment {segment!r}")
            if literal:
                tokens.append("".join(literal))
                literal = []
            tokens.append(_parse_param("".join(inner), template))
            i = end + 1
        elif ch == "}":
            raise EmulatorError(f"route {template!r}: unmatched '}}' (write '}}}}' for a literal brace)")
        else:
            literal.append(ch)
            i += 1
    if literal:
        tokens.append("".join(literal))
    return tokens


@dataclass
class Route:
    """One compiled template; ``match`` returns the route values or None."""

    template: str
    pattern: re.Pattern[str]
    params: list[_Param]
    precedence: tuple[int, ...]
    literal_prefix: tuple[str, ...] = ()  # the leading all-literal segments, lowercased

    def match(self, path: str) -> dict[str, str] | None:
        """Match a path relative to the route prefix (leading/trailing slashes ignored)."""
        path = path.strip("/")
        found = self.pattern.fullmatch("/" + path if path else "")
        if found is None:
            return None
        values: dict[str, str] = {}
        for param in self.params:
            value = found.group(param.name)
            if value is None or (value == "" and param.catch_all):
                if param.default is not None:
                    values[param.name] = param.default
                continue
            if not all(check(value) for check in param.checks):
                return None
            values[param.name] = value
        return values


def compile_route(template: str) -> Route:
    segments = template.strip("/").split("/") if template.strip("/") else []
    regex, params, precedence = "", [], []
    literal_prefix: list[str] = []
    for index, segment in enumerate(segments):
        tokens = _tokens(segment, template)
        literal = "".join(str(t) for t in tokens)
        # ASCII only: the regex folds some other letters onto ASCII ones (long s matches s), lower() does not
        if len(literal_prefix) == index and all(isinstance(t, str) for t in tokens) and literal.isascii():
            literal_prefix.append(literal.lower())
        if len(tokens) == 1 and isinstance(tokens[0], _Param):
            param = tokens[0]
            params.append(param)
            if param.catch_all:
                if index != len(segments) - 1:
                    raise EmulatorError(f"route {template!r}: a catch-all parameter must be the last segment")
                regex += f"(?:/(?P<{param.name}>.*))?"
                precedence.append(4 if param.checks else 5)
                continue
            body = f"/(?P<{param.name}>[^/]+)"
            regex += f"(?:{body})?" if param.optional or param.default is not None else body
            precedence.append(2 if param.checks else 3)  # ASP.NET ignores '?' when ranking
            continue
        part = ""
        for token in tokens:
            if isinstance(token, str):
                part += re.escape(token)
            else:
                params.append(token)
                inner = f"(?P<{token.name}>[^/]+)"  # greedy: ASP.NET matches complex segments right to left
                part += f"(?:{inner})?" if token.optional else inner
        regex += "/" + part
        precedence.append(1 if all(isinstance(t, str) for t in tokens) else 2)
    names = [p.name.lower() for p in params]
    if len(set(names)) != len(names):
        raise EmulatorError(f"route {template!r}: a parameter name appears twice")
    return Route(
        template, re.compile(regex, re.IGNORECASE | re.DOTALL), params, tuple(precedence), tuple(literal_prefix)
    )


class RouteTable(Generic[Target]):
    """Routes in precedence order, indexed by their leading literal segments: a path is tried only
    against the routes whose literal prefix it starts with (an app with 100 models has 300 routes,
    and trying them all cost up to 70 µs per request), in the same order as a full scan."""

    def __init__(self, routes: Sequence[tuple[Route, Target]]) -> None:
        self.routes = sorted(routes, key=lambda pair: pair[0].precedence)
        self._by_prefix: dict[tuple[str, ...], list[tuple[int, tuple[Route, Target]]]] = {}
        for order, pair in enumerate(self.routes):
            self._by_prefix.setdefault(pair[0].literal_prefix, []).append((order, pair))
        self._pairs = {prefix: [pair for _, pair in items] for prefix, items in self._by_prefix.items()}
        self._depth = max(map(len, self._by_prefix), default=0)

    def candidates(self, path: str) -> list[tuple[Route, Target]]:
        """The routes that may match ``path`` (relative to the route prefix), in precedence order."""
        if not path.isascii():  # literals match case-insensitively: leave Unicode case rules to the regex
            return self.routes
        segments = path.strip("/").lower().split("/")
        hits = [
            prefix
            for length in range(min(len(segments), self._depth) + 1)
            if (prefix := tuple(segments[:length])) in self._by_prefix
        ]
        if len(hits) == 1:
            return self._pairs[hits[0]]
        merged = sorted(item for prefix in hits for item in self._by_prefix[prefix])
        return [pair for _, pair in merged]
