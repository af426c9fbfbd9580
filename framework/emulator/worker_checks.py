"""What Azure checks when it loads a function, for the emulator's own path (Python 3.11/3.12).

On 3.13+ the emulator loads functions through azure-functions-runtime itself; below 3.13 the Python
worker is not installable, so this module reproduces the checks the worker (and the runtime, its
3.13 successor) makes in ``add_indexed_function`` — parameters against bindings, the ``context``
parameter, type annotations against binding types through azure.functions' own converters — with
the worker's own wording, so both paths refuse the same apps with the same message. Deferred
(SDK-type) bindings and HTTP streaming, which need azurefunctions-extensions-base, are not modelled.

The host's checks on the indexed metadata (function and binding names) apply on both paths.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Iterable
from typing import Any

import azure.functions as func

from framework.errors import FunctionRefused

_OUT, _INOUT = 1, 2  # BindingDirection values, as the worker compares them
_REGISTRY: Any = func.get_binding_registry()  # type: ignore[no-untyped-call]

#: The host's rules (WebJobs.Script Utility.cs, host 4.1038+ for binding names).
FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,127}$(?<!^host$)", re.IGNORECASE)
BINDING_NAME = re.compile(r"^(?!.*__)([a-zA-Z_][a-zA-Z0-9_]{0,127}|\$return)$")


def check_host_rules(functions: Iterable[func.Function]) -> None:
    """The host's validation of each function's metadata; it skips a function that fails."""
    for function in functions:
        name = str(function.get_function_name())
        if not FUNCTION_NAME.match(name):
            raise FunctionRefused(name, f"'{name}' is not a valid function name.", by="host")
        seen: set[str] = set()
        for binding in function.get_bindings():
            if not BINDING_NAME.match(binding.name):
                cause = f"The binding name {binding.name} is invalid. Please assign a valid name to the binding."
                raise FunctionRefused(name, cause, by="host")
            if binding.name.lower() in seen:
                cause = f"Multiple bindings with name '{binding.name}' discovered. Binding names must be unique."
                raise FunctionRefused(name, cause, by="host")
            seen.add(binding.name.lower())


def check_worker_rules(functions: Iterable[func.Function]) -> None:
    """The worker's load-time checks, function by function; the first refusal fails the whole app."""
    for function in functions:
        _check_function(function)


def _converter(binding_type: str) -> Any:
    return _REGISTRY.get(binding_type)


def _implicit_output(binding_type: str) -> bool:
    """Bindings without a converter are generic ones, which the worker treats as implicit outputs."""
    converter = _converter(binding_type)
    if converter is None:
        return binding_type != "durableClient"
    return bool(getattr(converter, "has_implicit_output", lambda: False)())


def _input_accepts(binding_type: str, pytype: Any) -> bool:
    converter = _converter(binding_type)
    if converter is None:
        return issubclass(pytype, (str, bytes))
    return bool(converter.check_input_type_annotation(pytype))


def _output_accepts(binding_type: str, pytype: Any) -> bool:
    converter = _converter(binding_type)
    if converter is None:
        return issubclass(pytype, (str, bytes, bytearray))
    return bool(converter.check_output_type_annotation(pytype))


def _is_generic(annotation: Any) -> bool:
    """A subscripted typing generic such as ``func.Out[str]`` or ``typing.List[int]`` (not ``list[int]``)."""
    return isinstance(annotation, type(typing.List[int])) and isinstance(typing.get_origin(annotation), type)  # noqa: UP006


def _is_out(annotation: Any) -> bool:
    origin = typing.get_origin(annotation) if _is_generic(annotation) else None
    target = origin if origin is not None else annotation
    return isinstance(target, type) and target.__name__ == "Out"


def _check_function(function: func.Function) -> None:
    handler = function.get_user_function()
    name = str(function.get_function_name())

    def refuse(cause: str) -> FunctionRefused:
        return FunctionRefused(name, cause)

    params = dict(inspect.signature(handler).parameters)
    hints = typing.get_type_hints(handler)  # a NameError here fails indexing, as in the worker
    bound, explicit_return, return_binding = _bindings(function, refuse)
    if "context" in params and "context" not in bound:
        params.pop("context")
        context = hints.get("context", inspect.Parameter.empty)
        if context is not inspect.Parameter.empty and (not isinstance(context, type) or context.__name__ != "Context"):
            expected = 'the "context" parameter is expected to be of type azure.functions.Context'
            raise refuse(f'{expected}, got "{context!r}"')
    if set(params) - set(bound):
        raise refuse(
            "the following parameters are declared in Python but not in the function definition "
            f"(function.json or function decorators):  {set(params) - set(bound)!r}"
        )
    if set(bound) - set(params):
        raise refuse(
            "Extra parameters in binding definition — the following parameters are declared as bindings but "
            f"are not present in Python: {set(bound) - set(params)!r}"
        )
    for param in params:
        _check_parameter(param, bound[param], hints, refuse)
    if explicit_return and "return" in hints:
        _check_return(hints["return"], str(return_binding), refuse)


def _bindings(function: func.Function, refuse: Callable[[str], FunctionRefused]) -> tuple[dict[str, Any], bool, str]:
    """The bindings parameters must match (all but ``$return``), whether there is a ``$return``, and
    the binding type the return value is checked against (the first ``$return``'s, else the last
    implicit output's)."""
    bound: dict[str, Any] = {}
    explicit_return = False
    return_binding = ""
    for binding in function.get_bindings():
        if binding.direction == _INOUT:
            raise refuse('"inout" bindings are not supported')
        if binding.name == "$return" and binding.direction != _OUT:
            raise refuse('"$return" binding must have direction set to "out"')
        if binding.name == "$return":
            if not explicit_return:
                return_binding = str(binding.type)
            explicit_return = True
            continue
        bound[binding.name] = binding
        if _implicit_output(str(binding.type)) and not explicit_return:
            return_binding = str(binding.type)
    return bound, explicit_return, return_binding


def _check_parameter(param: str, binding: Any, hints: dict[str, Any], refuse: Callable[[str], FunctionRefused]) -> None:
    if param not in hints:
        return
    annotation = hints[param]
    is_out = _is_out(annotation)
    pytype = annotation
    if is_out:
        args = typing.get_args(annotation)
        if len(args) != 1:
            raise refuse(f"binding {param} has invalid Out annotation {annotation!r}")
        pytype = args[0]
    if not isinstance(pytype, type) and not _is_generic(pytype):
        raise refuse(f"binding {param} has invalid non-type annotation {annotation!r}")
    binding_out = binding.direction == _OUT
    if binding_out and not is_out:
        raise refuse(
            f'binding {param} is declared to have the "out" direction, but its annotation in Python is not a '
            "subclass of azure.functions.Out"
        )
    if not binding_out and is_out:
        raise refuse(
            f'binding {param} is declared to have the "in" direction in the binding decorator, but its annotation '
            "is azure.functions.Out in Python"
        )
    generic = pytype in (str, bytes) and not _implicit_output(binding.type)
    binding_type = "generic" if generic else binding.type
    accepted = _output_accepts(binding_type, pytype) if is_out else _input_accepts(binding_type, pytype)
    if accepted:
        return
    if binding.data_type != 0:  # the worker's wording depends on whether a dataType was given
        raise refuse(
            f'binding type "{param!r}" and dataType "{binding.type}" in the binding decorator do not match the '
            f"corresponding function parameter's Python type annotation {pytype.__name__}"
        )
    raise refuse(
        f'type of {param} binding in the binding decorator "{binding.type}" does not match its Python annotation '
        f'"{pytype.__name__}"'
    )


def _check_return(annotation: Any, binding_type: str, refuse: Callable[[str], FunctionRefused]) -> None:
    if _is_generic(annotation) and typing.get_origin(annotation).__name__ == "Out":
        raise refuse("return annotation should not be azure.functions.Out")
    if not isinstance(annotation, type):
        raise refuse(f"has invalid non-type return annotation {annotation!r}")
    if not _output_accepts(binding_type, annotation):
        raise refuse(f'Python return annotation "{annotation.__name__}" does not match binding type "{binding_type}"')
