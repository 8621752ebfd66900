"""The model calls your Python functions: a stock price and the weather.

    python -m examples.function_calling

Tools are plain functions passed as ``tools=[...]``. The library declares them to the model from
their signatures, type hints and docstrings, runs every call the model makes (sync functions in
a worker thread, async ones as tasks, concurrently), sends each result back with the call's id,
and the model answers with them. The output shows each call, its result and the final answer;
no callback and no manual ``toolResponse`` is needed.

The bundled emulator does not choose tools on its own, so when it stands in for Gemini (no
GEMINI_API_KEY) this example gives it a small stand-in for the model's judgement,
:func:`pretend_model`: a question that names a word of a declared function (``stock``,
``weather``) gets a call to it, with the nearest proper noun as the argument.
"""

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import trio

from gemini_live_trio import (
    AudioTranscriptionConfig,
    ClientContent,
    ClientMessage,
    FunctionCall,
    FunctionDeclaration,
    FunctionResponse,
    LiveConfig,
    RealtimeInput,
    ServerContent,
    ToolCall,
    ToolCallFinished,
    ToolResponse,
    open_live_session,
)
from gemini_live_trio.testing import ClientGone, EmulatorConnection

from ._common import MODEL, connection

QUESTIONS = [
    "What's Apple's stock price?",
    "What's the weather in Paris, and how is Microsoft's stock doing?",
]

CONFIG = LiveConfig(
    response_modalities=["AUDIO"],
    output_audio_transcription=AudioTranscriptionConfig(),
    system_instruction="Use the tools for stock prices and weather. Answer briefly.",
)

# --------------------------------------------------------------------------- the tools

STOCKS = {"AAPL": ("Apple", 178.50), "MSFT": ("Microsoft", 415.30), "GOOGL": ("Alphabet", 171.20)}


def get_stock_price(symbol: str) -> dict[str, Any]:
    """Get the current stock price of a company.

    Args:
        symbol: A ticker symbol such as AAPL, or a company name such as Apple.
    """
    time.sleep(0.05)  # a slow, blocking lookup: it runs in a worker thread
    wanted = symbol.strip().upper()
    for ticker, (company, price) in STOCKS.items():
        if wanted in (ticker, company.upper()):
            result: dict[str, Any] = {"symbol": ticker, "price": price, "currency": "USD"}
            break
    else:
        result = {"error": f"unknown symbol {symbol!r}"}
    print(f"  -> get_stock_price({symbol!r}) returns {result}", flush=True)
    return result


async def get_weather(
    location: str, unit: Literal["celsius", "fahrenheit"] = "celsius"
) -> dict[str, Any]:
    """Get the current weather for a location.

    Args:
        location: A city name, e.g. Paris.
        unit: The temperature unit.
    """
    await trio.sleep(0.1)  # an async call to a weather service
    celsius = 18
    temperature = celsius if unit == "celsius" else round(celsius * 9 / 5 + 32)
    result = {"location": location, "temperature": temperature, "unit": unit, "sky": "cloudy"}
    print(f"  -> get_weather({location!r}) returns {result}", flush=True)
    return result


# --------------------------------------------------------------------------- the conversation


async def main() -> None:
    tools = [get_stock_price, get_weather]
    async with (
        connection(behaviour=pretend_model) as options,
        open_live_session(MODEL, config=CONFIG, tools=tools, **options) as session,
    ):
        for question in QUESTIONS:
            print(f"you> {question}")
            await session.send_text(question)
            answer = ""
            async for event in session.events:
                if isinstance(event, ToolCall):
                    for call in event.function_calls:
                        args = ", ".join(f"{k}={v!r}" for k, v in (call.args or {}).items())
                        print(f"[the model calls {call.name}({args}), id {call.id}]")
                elif isinstance(event, ToolCallFinished):
                    print(
                        f"[{event.name} finished: {event.outcome}, {event.duration * 1000:.0f} ms]"
                    )
                elif isinstance(event, ServerContent):
                    answer += event.output_transcription_text or event.text or ""
                    if event.turn_complete:
                        break
            print(f"gemini> {answer.strip()}\n")


# --------------------------------------------------------------------------- offline stand-in

#: Words of a function name that say nothing about its topic.
_VERBS = {"get", "set", "fetch", "find", "lookup", "current", "the"}
_PROPER_NOUN = re.compile(r"\b([A-Z][A-Za-z]+)(?:'s)?\b")


async def pretend_model(conn: EmulatorConnection) -> None:
    """An emulator behaviour that uses the declared tools the way a model would (roughly).

    For each user text: call every declared function that shares a word with it (in one
    ``toolCall``), wait for all the responses, then speak an answer built from them. A text
    that names no tool gets the emulator's usual answer.
    """
    declared = {d.name: d for t in conn.setup.tools or () for d in t.function_declarations or ()}
    calls_made = 0
    try:
        while True:
            text = _user_text(await conn.receive())
            if text is None:
                continue
            calls = []
            for call in _choose_calls(text, declared):
                calls_made += 1
                calls.append(FunctionCall(id=f"call-{calls_made}", name=call[0], args=call[1]))
            if not calls:
                await conn.reply_to_text(text)
                continue
            await conn.send(ToolCall(function_calls=calls))
            responses = await _responses(conn, {c.id for c in calls if c.id})
            await conn.say(_answer(responses))
    except ClientGone:
        return


def _user_text(message: ClientMessage) -> str | None:
    if isinstance(message, RealtimeInput):
        return message.text
    if isinstance(message, ClientContent) and message.turn_complete:
        parts = [p for turn in message.turns or () for p in turn.parts or ()]
        return "".join(p.text for p in parts if p.text) or None
    return None


def _choose_calls(
    text: str, declared: Mapping[str, FunctionDeclaration]
) -> list[tuple[str, dict[str, Any]]]:
    """(name, args) of each declared function the text names, in the order they appear."""
    lowered = text.lower()
    nouns = [
        m
        for m in _PROPER_NOUN.finditer(text)
        if m.start() > 0 and not re.search(r"[.!?]\s*$", text[: m.start()])
    ]
    chosen: list[tuple[int, str, dict[str, Any]]] = []
    for name, declaration in declared.items():
        words = [w for w in name.lower().split("_") if w not in _VERBS]
        places = [lowered.find(w) for w in words if w in lowered]
        if not places or not nouns:
            continue
        where = min(places)
        schema = declaration.parameters_json_schema or declaration.parameters or {}
        required = [p for p in schema.get("required", ()) if isinstance(p, str)]
        nearest = min(nouns, key=lambda m: abs(m.start() - where)).group(1)
        chosen.append((where, name, dict.fromkeys(required, nearest)))
    return [(name, args) for _, name, args in sorted(chosen)]


async def _responses(conn: EmulatorConnection, ids: set[str]) -> list[FunctionResponse]:
    """Every tool response for ``ids`` (other client messages are ignored meanwhile)."""
    got: list[FunctionResponse] = []
    while len(got) < len(ids):
        message = await conn.receive()
        if isinstance(message, ToolResponse):
            got.extend(r for r in message.function_responses if r.id in ids)
    return got


def _answer(responses: Sequence[FunctionResponse]) -> str:
    """A spoken summary of the tools' results."""
    pieces = []
    for response in responses:
        body = response.response or {}
        output = body.get("output", body)
        if "error" in body or (isinstance(output, Mapping) and "error" in output):
            error = body.get("error") or output.get("error")
            pieces.append(f"{response.name} failed: {error}")
        elif isinstance(output, Mapping):
            pieces.append(", ".join(f"{k} {v}" for k, v in output.items()))
        else:
            pieces.append(str(output))
    return "Here is what I found: " + "; ".join(pieces) + "."


if __name__ == "__main__":
    trio.run(main)
