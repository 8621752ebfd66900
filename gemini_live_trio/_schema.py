"""JSON Schema for a Python function's parameters, from its signature, hints and docstring.

Handles str/int/float/bool, Enum and Literal (``enum``), list/tuple/set (``array``), dict
(``object``), ``Optional``/``X | None`` (``anyOf`` with ``null``), attrs classes (``object``
with ``properties``/``required``) and ``Any`` (no constraint). Parameter descriptions come from a
Google-style ``Args:`` section or reST ``:param x:`` lines.
"""

import enum
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Union

import attrs

from ._exceptions import ConfigError

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_SKIP_PARAMS = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def type_schema(tp: Any, where: str) -> dict[str, Any]:
    """The JSON Schema of one annotation; ``where`` names it in errors."""
    if tp is Any or tp is inspect.Parameter.empty:
        return {}
    if tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        kind = "integer" if all(isinstance(v, int) for v in values) else "string"
        return {"type": kind, "enum": values}
    if attrs.has(tp):
        return object_schema(tp)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        kind = "integer" if all(isinstance(v, int) for v in args) else "string"
        return {"type": kind, "enum": list(args)}
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        inner = [type_schema(a, where) for a in rest]
        schema = inner[0] if len(inner) == 1 else {"anyOf": inner}
        if len(rest) < len(args):
            return {"anyOf": [schema, {"type": "null"}]}
        return schema
    if origin in (list, tuple, set, frozenset, Sequence) or tp in (list, tuple, set):
        item = args[0] if args else Any
        return {"type": "array", "items": type_schema(item, where)}
    if origin in (dict, Mapping) or tp is dict:
        value = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": type_schema(value, where)}
    raise ConfigError(
        f"cannot describe the type {tp!r} of {where} as JSON Schema; "
        "annotate it with str/int/float/bool/Enum/Literal/list/dict/an attrs class, "
        "or pass parameters= explicitly"
    )


def object_schema(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for a in attrs.fields(cls):
        properties[a.name] = type_schema(hints.get(a.name, Any), f"{cls.__name__}.{a.name}")
        if a.default is attrs.NOTHING:
            required.append(a.name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def split_docstring(fn: Callable[..., Any]) -> tuple[str | None, dict[str, str]]:
    """(summary, {parameter: description}) from a function's docstring."""
    doc = inspect.getdoc(fn)
    if not doc:
        return None, {}
    params: dict[str, str] = {}
    for name, text in re.findall(r"^\s*:param\s+(\w+):\s*(.+)$", doc, re.M):
        params[name] = text.strip()
    match = re.search(r"^(?:Args|Arguments|Parameters):\s*$(.*?)(?:^\S|\Z)", doc, re.M | re.S)
    if match:
        for name, text in re.findall(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.+)$", match.group(1), re.M):
            params.setdefault(name, text.strip())
    summary = re.split(r"\n\s*\n", doc, maxsplit=1)[0].strip()
    if summary.startswith((":param", "Args:")):
        summary = ""
    return summary or None, params


def function_schema(fn: Callable[..., Any]) -> tuple[str | None, dict[str, Any]]:
    """(description, parameters JSON Schema) for ``fn``."""
    summary, docs = split_docstring(fn)
    try:
        hints = typing.get_type_hints(fn)
    except (NameError, TypeError) as exc:
        raise ConfigError(f"cannot read the type hints of {fn.__name__}: {exc}") from None
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, param in inspect.signature(fn).parameters.items():
        if param.kind in _SKIP_PARAMS:
            continue
        schema = type_schema(hints.get(name, Any), f"parameter {name!r} of {fn.__name__}")
        if name in docs:
            schema = {**schema, "description": docs[name]}
        properties[name] = schema
        if param.default is inspect.Parameter.empty:
            required.append(name)
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    return summary, parameters
