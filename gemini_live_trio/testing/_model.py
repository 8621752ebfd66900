"""The default behaviour: a deterministic scripted model that answers every user turn.

Text turns (``clientContent`` with ``turnComplete``, or ``realtimeInput.text``) are answered at
once; streamed audio is collected until ``audioStreamEnd`` (server VAD) or ``activityEnd``
(manual VAD) and answered as ``"You said: <N ms of audio>"``. See :mod:`._reply` for the words.
"""

from collections.abc import Iterable, Sequence

from .._content import Content
from .._events import ClientContent, ClientMessage, RealtimeInput
from ._connection import ClientGone, EmulatorConnection
from ._reply import answer_for, text_tokens


def user_text(turns: Iterable[Content]) -> str | None:
    """The joined text parts of the last user turn, or ``None`` without a user turn."""
    last = None
    for turn in turns:
        if turn.role in (None, "user"):
            last = turn
    if last is None:
        return None
    return "".join(p.text for p in last.parts or () if p.text is not None and not p.thought)


def last_text(messages: Sequence[ClientMessage]) -> str | None:
    """The newest user text among ``messages`` (a text turn or ``realtimeInput.text``)."""
    for message in reversed(messages):
        if isinstance(message, RealtimeInput) and message.text is not None:
            return message.text
        if isinstance(message, ClientContent) and message.turns:
            text = user_text(message.turns)
            if text is not None:
                return text
    return None


async def default_model(conn: EmulatorConnection) -> None:
    """Answer the client until it goes away (the behaviour :func:`serve_emulator` uses)."""
    try:
        await _converse(conn)
    except ClientGone:
        return


async def _converse(conn: EmulatorConnection) -> None:
    history = conn.setup.history_config
    # Initial history is seeded once, at the start of a conversation, not on a resumed one.
    seeding = bool(history and history.initial_history_in_client_content) and not conn.resumed
    # Unanswered input lives on the connection, so a resumption handle carries it.
    turns = conn.pending_turns
    audio = conn.pending_audio
    while True:
        message = await conn.receive()  # adds its turns and audio to the pending input
        if isinstance(message, ClientContent):
            if not message.turn_complete:
                continue
            complete = list(turns)
            turns.clear()
            if seeding:  # initial history: learn from it, do not answer (§3.2 historyConfig)
                seeding = False
                _learn(conn, complete)
            else:
                await conn.reply_to_text(user_text(complete) or "")
        elif isinstance(message, RealtimeInput):
            if message.text is not None:
                await conn.reply_to_text(message.text)
            elif (message.audio_stream_end or message.activity_end is not None) and audio:
                pcm = bytes(audio)
                audio.clear()
                await conn.reply_to_audio(pcm, conn.audio_rate)


def _learn(conn: EmulatorConnection, turns: Sequence[Content]) -> None:
    for turn in turns:
        text = user_text([turn])
        if text:
            answer_for(text, conn.memory)
            conn.context_tokens["TEXT"] = conn.context_tokens.get("TEXT", 0) + text_tokens(text)
