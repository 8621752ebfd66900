"""The model calls your Python functions: a stock price and the weather.

    python -m examples.function_calling

Tools are plain functions passed as ``tools=[...]``. The library declares them to the model from
their signatures, type hints and docstrings, runs every call the model makes (sync functions in
a worker thread, async ones as tasks, concurrently), sends each result back with the call's id,
and the model answers with them. The output shows each call, its result and the final answer;
no callback and no manual ``toolResponse`` is needed.

Offline (no GEMINI_API_KEY), the bundled emulator's model stands in for Gemini's judgement: a
question that names a word of a declared function (``stock``, ``weather``) gets a call to it,
with the nearest proper noun as the argument, and its answer quotes the results.
"""

import time
from typing import Any, Literal

import trio

from gemini_live_trio import (
    AudioTranscriptionConfig,
    LiveConfig,
    ServerContent,
    ToolCall,
    ToolCallFinished,
    open_live_session,
)

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
        connection() as options,
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


if __name__ == "__main__":
    trio.run(main)
