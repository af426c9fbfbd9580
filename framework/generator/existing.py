"""The functions an app already has, read from its source with ``ast`` (nothing is imported).

`funnx new` refuses a function name or a (route, method) pair that is already taken: the worker
would refuse the whole app over a duplicate name, and a duplicate route makes one function
unreachable. Decorators are read as the generator writes them (``function_name`` and ``route``
with literal arguments); anything else is skipped, and the emulator still checks at start.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ExistingFunction:
    file: Path
    name: str
    route: str
    methods: frozenset[str] | None  # None: every method

    def conflicts(self, route: str, method: str) -> bool:
        same_route = self.route.strip("/").lower() == route.strip("/").lower()
        return same_route and (self.methods is None or method in self.methods)


def _literal(node: ast.expr | None, constants: dict[str, object]) -> object:
    """A literal argument, or a module-level constant it names (``route=ROUTE``)."""
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    try:
        return ast.literal_eval(node) if node is not None else None
    except ValueError:
        return None


def _constants(tree: ast.Module) -> dict[str, object]:
    found: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _literal(node.value, {})
            if value is not None:
                found[node.targets[0].id] = value
    return found


def _argument(call: ast.Call, keyword: str) -> ast.expr | None:
    found = next((k.value for k in call.keywords if k.arg == keyword), None)
    return found if found is not None else (call.args[0] if call.args else None)


def _describe(
    function: ast.FunctionDef | ast.AsyncFunctionDef, file: Path, constants: dict[str, object]
) -> ExistingFunction | None:
    name: object = function.name
    route: object = None
    methods: object = None
    is_http = False
    for decorator in function.decorator_list:
        if not isinstance(decorator, ast.Call) or not isinstance(decorator.func, ast.Attribute):
            continue
        if decorator.func.attr == "function_name":
            name = _literal(_argument(decorator, "name"), constants)
        elif decorator.func.attr == "route":
            is_http = True
            route = _literal(_argument(decorator, "route"), constants)
            methods = _literal(next((k.value for k in decorator.keywords if k.arg == "methods"), None), constants)
    if not is_http or not isinstance(name, str):
        return None
    method_set = frozenset(str(m).upper() for m in methods) if isinstance(methods, list | tuple) else None
    return ExistingFunction(file, name, route if isinstance(route, str) else name, method_set)


def existing_functions(app_dir: Path, skip: Path | None = None) -> list[ExistingFunction]:
    """HTTP functions declared in function_app.py and functions_app/*.py (except ``skip``)."""
    files = [app_dir / "function_app.py", *sorted((app_dir / "functions_app").glob("*.py"))]
    found = []
    for file in files:
        if file == skip or not file.is_file():
            continue
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        constants = _constants(tree)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                described = _describe(node, file, constants)
                if described is not None:
                    found.append(described)
    return found


@dataclass(frozen=True)
class DeclaredModel:
    name: str
    source: str
    connection: str | None


def declared_models(app_dir: Path) -> list[DeclaredModel]:
    """The ``OnnxModel(...)`` declarations in functions_app/*.py, read as literals."""
    found = []
    for file in sorted((app_dir / "functions_app").glob("*.py")):
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "OnnxModel":
                values = {k.arg: _literal(k.value, {}) for k in node.keywords if k.arg}
                if isinstance(values.get("name"), str) and isinstance(values.get("source"), str):
                    connection = values.get("connection")
                    found.append(
                        DeclaredModel(
                            str(values["name"]),
                            str(values["source"]),
                            connection if isinstance(connection, str) else None,
                        )
                    )
    return found
