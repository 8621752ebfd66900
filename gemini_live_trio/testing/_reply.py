"""The default model's answers: fixed rules for the words, then the frames a real turn has.

A turn is streamed the way wire-protocol.md §5.9 describes: ``modelTurn`` parts (a 440 Hz tone
in 40 ms chunks, or one word of text per frame), output transcription words between the audio
chunks when enabled, ``generationComplete``, then ``turnComplete`` with ``usageMetadata`` in one
frame. When the client asked for resumption updates, one with ``resumable: false`` (and no
handle) comes before the first output, as the real service sends during generation, and a
resumable one with a fresh handle follows ``turnComplete``.

Function tools: a user text that names a topic word of a declared function's name (``stock``
or ``price`` for ``get_stock_price``; filler such as ``get`` or ``the`` does not count) gets a
call to it, each required argument being the proper noun nearest that word (see
:func:`choose_calls`); the turn after the results mentions each one (:func:`results_answer`).
"""

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._config import FunctionDeclaration
from .._content import Blob, Content, FunctionResponse, ModalityTokenCount, Part, Transcription
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
#: Words of a function name that say nothing about its topic.
_FILLER = frozenset(
    "get set fetch find lookup look current the and for from with into list make".split()
)
_NAME_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_PROPER_NOUN = re.compile(r"\b([A-Z][A-Za-z]+)(?:'s|\u2019s)?\b")
_SENTENCE_END = re.compile(r"[.!?]\s*$")
#: What the model says at once when every call it made is NON_BLOCKING.
WORKING_ON_IT = "Working on it."


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


def topic_words(name: str) -> list[str]:
    """The words of a function name (snake_case or camelCase) that name its topic."""
    found = (w.lower() for w in _NAME_WORD.findall(name))
    return [w for w in found if len(w) >= 3 and w not in _FILLER]


def choose_calls(
    text: str, declarations: Iterable[FunctionDeclaration]
) -> list[tuple[str, dict[str, Any]]]:
    """``(name, args)`` of each declared function that ``text`` names, in the text's order.

    A function is named when a word of the text starts with one of its :func:`topic_words`.
    Each required parameter gets the proper noun nearest that word (a capitalised word not
    starting a sentence), or the whole text when there is none.
    """
    nouns = [
        m
        for m in _PROPER_NOUN.finditer(text)
        if m.start() > 0 and not _SENTENCE_END.search(text[: m.start()])
    ]
    chosen: dict[str, tuple[int, dict[str, Any]]] = {}
    for declaration in declarations:
        places = [
            found.start()
            for word in topic_words(declaration.name)
            if (found := re.search(rf"\b{re.escape(word)}", text, re.IGNORECASE))
        ]
        if not places or declaration.name in chosen:
            continue
        where = min(places)
        schema = declaration.parameters_json_schema or declaration.parameters or {}
        required = [p for p in schema.get("required", ()) if isinstance(p, str)]
        if nouns:
            value = min(nouns, key=lambda m: abs(m.start() - where)).group(1)
        else:
            value = text.strip()
        chosen[declaration.name] = (where, dict.fromkeys(required, value))
    return [(name, args) for name, (_, args) in sorted(chosen.items(), key=lambda i: i[1][0])]


def results_answer(responses: Sequence[FunctionResponse]) -> str:
    """The answer that uses function results: ``"get_x returned {...}; get_y failed: ..."``."""
    pieces = []
    for response in responses:
        body = dict(response.response or {})
        if "error" in body:
            pieces.append(f"{response.name} failed: {_shown(body['error'])}")
        else:
            pieces.append(f"{response.name} returned {_shown(body.get('output', body))}")
    return "; ".join(pieces) + "." if pieces else "Done."


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def words(text: str) -> list[str]:
    """``text`` in word chunks (each with its trailing space) that join back to ``text``."""
    return _WORD.findall(text) or [text]


def text_tokens(text: str) -> int:
    return max(1, -(-len(text) // CHARACTERS_PER_TOKEN))


def audio_tokens(ms: int) -> int:
    return max(1, -(-ms * AUDIO_TOKENS_PER_SECOND // 1000))


async def reply_to_text(conn: "EmulatorConnection", text: str) -> None:
    await speak(conn, answer_for(text, conn.memory), prompt={"TEXT": text_tokens(text)})


async def reply_with_results(
    conn: "EmulatorConnection", responses: Sequence[FunctionResponse]
) -> None:
    """Answer function results with a turn that mentions each one (they count as prompt)."""
    heard = json.dumps([r.response for r in responses], default=str)
    await speak(conn, results_answer(responses), prompt={"TEXT": text_tokens(heard)})


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
