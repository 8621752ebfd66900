"""Declarations from Python functions: JSON Schema from hints and docstrings (no sockets)."""

import enum
from typing import Any, Literal

import attrs
import pytest

from gemini_live_trio import Behavior, ConfigError, FunctionDeclaration, LiveTool, Tool, tool
from gemini_live_trio._schema import function_schema, split_docstring, type_schema
from gemini_live_trio._tools import collect_tools


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


@attrs.define
class Address:
    city: str
    zip_code: str | None = None


def weather(
    location: str,
    unit: Unit = Unit.C,
    days: int = 1,
    detail: Literal["short", "long"] = "short",
    hours: list[int] | None = None,
    extras: dict[str, float] | None = None,
    at: Address | None = None,
    anything: Any = None,
    precise: bool = False,
    scale: float = 1.0,
) -> str:
    """Get the weather.

    Longer explanation that is not part of the summary.

    Args:
        location: City name.
        unit (Unit): Temperature unit.
    """
    return location


def test_function_schema_covers_every_supported_type() -> None:
    description, schema = function_schema(weather)
    assert description == "Get the weather."
    props = schema["properties"]
    assert schema["required"] == ["location"]
    assert props["location"] == {"type": "string", "description": "City name."}
    assert props["unit"] == {
        "type": "string",
        "enum": ["celsius", "fahrenheit"],
        "description": "Temperature unit.",
    }
    assert props["days"] == {"type": "integer"}
    assert props["detail"] == {"type": "string", "enum": ["short", "long"]}
    assert props["hours"] == {
        "anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]
    }
    assert props["extras"]["anyOf"][0] == {
        "type": "object",
        "additionalProperties": {"type": "number"},
    }
    assert props["at"]["anyOf"][0] == {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "zip_code": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["city"],
    }
    assert props["anything"] == {}
    assert props["precise"] == {"type": "boolean"}
    assert props["scale"] == {"type": "number"}


def test_rest_style_docstrings() -> None:
    def f(a: int) -> None:
        """Do a thing.

        :param a: the number
        """

    assert split_docstring(f) == ("Do a thing.", {"a": "the number"})


def test_unsupported_type_says_what_to_do() -> None:
    with pytest.raises(ConfigError, match="parameters="):
        type_schema(complex, "parameter 'z' of f")


def test_tool_decorator_overrides_and_generators_default_to_non_blocking() -> None:
    @tool(name="lookup", description="Look it up", parameters={"type": "object"}, timeout=5)
    def f(x: int) -> int:
        return x

    assert isinstance(f, LiveTool)
    assert f.declaration == FunctionDeclaration(
        name="lookup", description="Look it up", parameters_json_schema={"type": "object"}
    )
    assert f.timeout == 5

    @tool
    async def progress() -> Any:
        yield 1

    assert progress.declaration.behavior is Behavior.NON_BLOCKING


async def test_live_tool_is_still_callable() -> None:
    @tool
    async def double(x: int) -> int:
        return 2 * x

    @tool
    def triple(x: int) -> int:
        return 3 * x

    assert await double(2) == 4
    assert await triple(2) == 6


def test_collect_tools_merges_declarations_and_keeps_builtins() -> None:
    manual = FunctionDeclaration(name="manual")
    setup, handlers = collect_tools(
        [
            weather,
            manual,
            Tool.code_execution_tool(),
            Tool(function_declarations=[FunctionDeclaration(name="x")]),
        ]
    )
    assert [d.name for d in setup[0].function_declarations or ()] == ["weather", "manual", "x"]
    assert setup[1] == Tool(code_execution={})
    assert set(handlers) == {"weather"}
    with pytest.raises(ConfigError, match="declared twice: weather"):
        collect_tools([weather, weather])
