"""The default behaviour: a deterministic scripted model that answers every user turn.

Text turns (``clientContent`` with ``turnComplete``, or ``realtimeInput.text``) are answered at
once; streamed audio is collected until ``audioStreamEnd`` (server VAD) or ``activityEnd``
(manual VAD) and answered as ``"You said: <N ms of audio>"``. See :mod:`._reply` for the words.
When ``setup`` declares function tools, a text that names one gets a ``toolCall`` first and an
answer that uses the results (see :class:`_Model`).
"""

from collections import deque
from collections.abc import Iterable, Sequence, Set

from .._config import Behavior
from .._content import Content, FunctionCall, FunctionResponse, FunctionResponseScheduling
from .._events import ClientContent, ClientMessage, RealtimeInput, ToolCall, ToolResponse
from ._connection import INVALID_ARGUMENT, ClientGone, EmulatorConnection
from ._reply import (
    WORKING_ON_IT,
    answer_for,
    choose_calls,
    reply_with_results,
    speak,
    text_tokens,
)


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
        await _Model(conn).converse()
    except ClientGone:
        return


#: A user input to answer: a text, or audio (PCM and its rate).
Heard = str | tuple[bytes, int]


class _Model:
    """One connection's conversation, including the function calls the model made.

    BLOCKING calls: the model waits for every response (input heard meanwhile is answered
    afterwards, in order), then speaks one turn with the results. NON_BLOCKING calls only: it
    says :data:`WORKING_ON_IT` at once and speaks each non-``SILENT`` result when it arrives.
    A ``toolResponse`` must answer calls the model issued and has not had answered, by ``id``
    and ``name``, or the connection closes with 1007 (as the real service does). While the
    model has issued no call, a ``toolResponse`` is ignored (it answers a script's call).
    """

    def __init__(self, conn: EmulatorConnection) -> None:
        self.conn = conn
        history = conn.setup.history_config
        # Initial history is seeded once, at the start of a conversation, not on a resumed one.
        self.seeding = bool(history and history.initial_history_in_client_content)
        self.seeding = self.seeding and not conn.resumed
        self.declared = {
            d.name: d for t in conn.setup.tools or () for d in t.function_declarations or ()
        }
        self.issued = 0
        #: Calls issued and not answered yet: id -> name.
        self.outstanding: dict[str, str] = {}
        #: Input heard while the model waited for BLOCKING results, to answer next.
        self.later: deque[Heard] = deque()

    async def converse(self) -> None:
        while True:
            message = await self.conn.receive()  # adds its turns and audio to pending input
            if isinstance(message, ToolResponse):
                results = await self._accept(message)
                if results:  # NON_BLOCKING results, after the model's first answer
                    await reply_with_results(self.conn, results)
                continue
            heard = self._heard(message)
            if heard is not None:
                self.later.append(heard)
            while self.later:
                await self._answer(self.later.popleft())

    def _heard(self, message: ClientMessage) -> Heard | None:
        """The user input ``message`` completes, if any (taken from the pending input)."""
        conn = self.conn
        if isinstance(message, ClientContent):
            if not message.turn_complete:
                return None
            complete = list(conn.pending_turns)
            conn.pending_turns.clear()
            if self.seeding:  # initial history: learn from it, do not answer (§3.2)
                self.seeding = False
                _learn(conn, complete)
                return None
            return user_text(complete) or ""
        if isinstance(message, RealtimeInput):
            if message.text is not None:
                return message.text
            if (message.audio_stream_end or message.activity_end is not None) and (
                conn.pending_audio
            ):
                pcm = bytes(conn.pending_audio)
                conn.pending_audio.clear()
                return pcm, conn.audio_rate
        return None

    async def _answer(self, heard: Heard) -> None:
        conn = self.conn
        if not isinstance(heard, str):
            await conn.reply_to_audio(*heard)
            return
        chosen = choose_calls(heard, self.declared.values())
        if not chosen:
            await conn.reply_to_text(heard)
            return
        calls = []
        for name, args in chosen:
            self.issued += 1
            calls.append(FunctionCall(id=f"fc-{self.issued}", name=name, args=args))
            self.outstanding[f"fc-{self.issued}"] = name
        conn.context_tokens["TEXT"] = conn.context_tokens.get("TEXT", 0) + text_tokens(heard)
        if conn.setup.session_resumption is not None:  # not resumable during a function call
            await conn.send(conn.resumption_update(resumable=False))
        await conn.send(ToolCall(function_calls=calls))
        waiting = {c.id for c in calls if not self._non_blocking(c.name)}
        if not waiting:
            await speak(conn, WORKING_ON_IT)
            return
        results: list[FunctionResponse] = []
        while waiting & self.outstanding.keys():
            message = await conn.receive()
            if isinstance(message, ToolResponse):
                results += await self._accept(message, blocking=waiting)
            else:
                heard_now = self._heard(message)
                if heard_now is not None:
                    self.later.append(heard_now)
        order = {c.id: i for i, c in enumerate(calls)} | {c.name: i for i, c in enumerate(calls)}
        results.sort(key=lambda r: order.get(r.id, order.get(r.name, len(calls))))
        await reply_with_results(conn, results)  # in the order of the calls

    async def _accept(
        self, message: ToolResponse, *, blocking: Set[str | None] = frozenset()
    ) -> list[FunctionResponse]:
        """Check ``message`` against the outstanding calls; the results worth a word (all but
        ``SILENT`` NON_BLOCKING ones). Closes with 1007 for a response to no such call."""
        if not self.issued:
            return []
        outstanding = dict(self.outstanding)
        results = []
        for response in message.function_responses:
            call_id = response.id
            if call_id is None and self.conn.vertex:  # Vertex may leave ids out: match by name
                call_id = next((i for i, n in outstanding.items() if n == response.name), None)
            if call_id is None or outstanding.get(call_id) != response.name:
                await self.conn.close(1007, INVALID_ARGUMENT)
                raise ClientGone(1007, INVALID_ARGUMENT)
            if not response.will_continue:
                del outstanding[call_id]
            silent = str(response.scheduling or "") == FunctionResponseScheduling.SILENT
            if call_id in blocking or not silent:
                results.append(response)
        self.outstanding = outstanding
        return results

    def _non_blocking(self, name: str) -> bool:
        behavior = self.declared[name].behavior
        return str(behavior or "") == Behavior.NON_BLOCKING


def _learn(conn: EmulatorConnection, turns: Sequence[Content]) -> None:
    for turn in turns:
        text = user_text([turn])
        if text:
            answer_for(text, conn.memory)
            conn.context_tokens["TEXT"] = conn.context_tokens.get("TEXT", 0) + text_tokens(text)
