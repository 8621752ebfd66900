"""The default model's answers: fixed rules for the words, then the frames a real turn has.

A turn is streamed the way wire-protocol.md §5.9 describes: ``modelTurn`` parts (a 440 Hz tone
in 40 ms chunks, or one word of text per frame), output transcription words between the audio
chunks when enabled, ``generationComplete``, then ``turnComplete`` with ``usageMetadata`` in one
frame. When the client asked for resumption updates, one with ``resumable: false`` (and no
handle) comes before the first output, as the real service sends during generation, and a
resumable one with a fresh handle follows ``turnComplete``.
"""

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._content import Blob, Content, ModalityTokenCount, Part, Transcription
from .._events import ServerContent, UsageMetadata
from ._audio import OUTPUT_RATE, duration_ms, tone_pcm

if TYPE_CHECKING:
    from ._connection import EmulatorConnection

#: Spoken length of one character of the answer.
MS_PER_CHARACTER = 60
#: Audio per ``modelTurn`` frame: 40 ms at 24 kHz s16le = 1920 bytes.
CHUNK_BYTES = OUTPUT_RATE * 2 * 40 // 1000
OUTPUT_MIME = "audio/pcm;rate=24000"
#: Token rates for usageMetadata (the Gemini API counts audio at 32 tokens per second).
AUDIO_TOKENS_PER_SECOND = 32
CHARACTERS_PER_TOKEN = 4

_MY_NAME_IS = re.compile(r"\bmy name is\s+([^\W\d_][\w'-]*)", re.IGNORECASE)
_WHATS_MY_NAME = re.compile(r"\bwhat(?:'s|\u2019s|\s+is)\s+my\s+name\b", re.IGNORECASE)
_WORD = re.compile(r"\S+\s*")


def answer_for(text: str, memory: dict[str, Any]) -> str:
    """The default model's answer to a user text; remembers a name in ``memory``."""
    found = _MY_NAME_IS.search(text)
    if found:
        memory["name"] = found.group(1)
        return f"Nice to meet you, {found.group(1)}."
    if _WHATS_MY_NAME.search(text):
        name = memory.get("name")
        return f"Your name is {name}." if name else "I don't know your name yet."
    return f"You said: {text}"


def words(text: str) -> list[str]:
    """``text`` in word chunks (each with its trailing space) that join back to ``text``."""
    return _WORD.findall(text) or [text]


def text_tokens(text: str) -> int:
    return max(1, -(-len(text) // CHARACTERS_PER_TOKEN))


def audio_tokens(ms: int) -> int:
    return max(1, -(-ms * AUDIO_TOKENS_PER_SECOND // 1000))


async def reply_to_text(conn: "EmulatorConnection", text: str) -> None:
    await speak(conn, answer_for(text, conn.memory), prompt={"TEXT": text_tokens(text)})


async def reply_to_audio(conn: "EmulatorConnection", pcm: bytes, rate: int) -> None:
    ms = duration_ms(pcm, rate)
    heard = f"<{ms} ms of audio>"
    if conn.setup.input_audio_transcription is not None:
        transcription = Transcription(text=heard, finished=True)
        await conn.send(ServerContent(input_transcription=transcription))
    await speak(conn, answer_for(heard, conn.memory), prompt={"AUDIO": audio_tokens(ms)})


async def speak(
    conn: "EmulatorConnection", answer: str, *, prompt: Mapping[str, int] | None = None
) -> None:
    """Stream ``answer`` as one complete model turn; ``prompt`` is the user input's tokens."""
    for modality, count in (prompt or {}).items():
        conn.context_tokens[modality] = conn.context_tokens.get(modality, 0) + count
    resumption = conn.setup.session_resumption is not None
    if resumption:
        await conn.send(conn.resumption_update(resumable=False))
    if conn.response_modality == "TEXT":
        for word in words(answer):
            await conn.send(ServerContent(model_turn=Content(parts=[Part(text=word)])))
        response = {"TEXT": text_tokens(answer)}
    else:
        ms = len(answer) * MS_PER_CHARACTER
        await _stream_audio(conn, tone_pcm(ms / 1000, OUTPUT_RATE), answer)
        response = {"AUDIO": audio_tokens(ms)}
    await conn.send(ServerContent(generation_complete=True))
    await conn.send(ServerContent(turn_complete=True), _usage(conn.context_tokens, response))
    for modality, count in response.items():
        conn.context_tokens[modality] = conn.context_tokens.get(modality, 0) + count
    if resumption:
        await conn.send(conn.resumption_update())


async def _stream_audio(conn: "EmulatorConnection", pcm: bytes, answer: str) -> None:
    chunks = [pcm[i : i + CHUNK_BYTES] for i in range(0, len(pcm), CHUNK_BYTES)]
    transcript = words(answer) if conn.setup.output_audio_transcription is not None else []
    # Word j goes after audio chunk j * len(chunks) // len(transcript): spread over the turn.
    after: dict[int, list[str]] = {}
    for j, word in enumerate(transcript):
        after.setdefault(j * len(chunks) // len(transcript), []).append(word)
    for i, chunk in enumerate(chunks):
        blob = Blob(mime_type=OUTPUT_MIME, data=chunk)
        await conn.send(ServerContent(model_turn=Content(parts=[Part(inline_data=blob)])))
        for word in after.get(i, ()):
            await conn.send(ServerContent(output_transcription=Transcription(text=word)))


def _usage(context: Mapping[str, int], response: Mapping[str, int]) -> UsageMetadata:
    prompt_total = sum(context.values())
    response_total = sum(response.values())
    return UsageMetadata(
        prompt_token_count=prompt_total,
        response_token_count=response_total,
        total_token_count=prompt_total + response_total,
        prompt_tokens_details=_details(context),
        response_tokens_details=_details(response),
    )


def _details(counts: Mapping[str, int]) -> list[ModalityTokenCount]:
    return [ModalityTokenCount(modality=m, token_count=n) for m, n in sorted(counts.items())]
