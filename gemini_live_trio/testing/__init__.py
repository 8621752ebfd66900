"""A local emulator of the Gemini Live API, for tests and offline development.

It speaks the real wire protocol over real WebSockets: same paths, credentials, close codes
and reason texts, camelCase binary frames. A deterministic model answers text and audio turns
(a 440 Hz tone stands in for speech); scripts and custom behaviours inject anything else::

    emulator = await nursery.start(serve_emulator)
    # connect a client to emulator.base_url with emulator.api_key

    behaviour = script(Expect(ClientContent), Reply(), Close(1011, "Internal error occurred."))
    emulator = await nursery.start(partial(serve_emulator, behaviour=behaviour))

Continuity: each resumable ``sessionResumptionUpdate`` carries a handle that restores the
conversation on a later connection (``strict_handles``, ``send_consumed_index``); scripts inject
:class:`SendGoAway`, :class:`Drop`, :class:`Close`, :class:`Stall` and
:class:`ResumptionUpdate`, :meth:`Emulator.refuse_next` refuses connections, and
:func:`per_connection` gives each connection its own behaviour.

Run one from a shell with ``python -m gemini_live_trio.testing --port 8765``.
"""

from ._audio import tone_pcm
from ._connection import ClientGone, EmulatorConnection, SavedConversation
from ._model import default_model
from ._recorded import replay_recording
from ._rest import EmulatorRest, serve_emulator_rest
from ._script import (
    Behaviour,
    Close,
    Drop,
    Expect,
    Reply,
    ResumptionUpdate,
    Send,
    SendGoAway,
    Sleep,
    Stall,
    Step,
    per_connection,
    script,
)
from ._server import INVALID_HANDLE, Emulator, serve_emulator
from ._tokens import EmulatorCredentials, IssuedToken

__all__ = [
    "serve_emulator",
    "Emulator",
    "EmulatorConnection",
    "ClientGone",
    "Behaviour",
    "default_model",
    "script",
    "per_connection",
    "Step",
    "Expect",
    "Send",
    "Reply",
    "Sleep",
    "Close",
    "Drop",
    "SendGoAway",
    "Stall",
    "ResumptionUpdate",
    "SavedConversation",
    "INVALID_HANDLE",
    "serve_emulator_rest",
    "EmulatorRest",
    "EmulatorCredentials",
    "IssuedToken",
    "tone_pcm",
    "replay_recording",
]
