"""Replay a recorded session (``gemini_live_trio.Recording``) as an emulator behaviour.

The replay reacts to the client: it waits for each client message the recording holds, checks
that the client sent the same kind of message (``clientContent``, ``realtimeInput``,
``toolResponse``), then sends the server frames that followed it in the recording. Elided media
(``"<elided N bytes>"``) comes back as N bytes of silence; the recorded ``setupComplete`` is
skipped (the emulator already sent its own). Only the recording's first connection is replayed.
"""

import base64
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import trio

from .._recording import read_recording
from .._wire import dumps, to_camel
from ._connection import ClientGone, EmulatorConnection
from ._script import Behaviour

_ELIDED = re.compile(r"<elided (\d+) bytes>")


def _restore(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v) for v in value]
    if isinstance(value, str):
        match = _ELIDED.fullmatch(value)
        if match:
            return base64.b64encode(bytes(int(match.group(1)))).decode("ascii")
    return value


def _kind(frame: dict[str, Any]) -> str:
    (key,) = frame.keys()
    return to_camel(key)


def replay_recording(
    recording: str | Path | Iterable[dict[str, Any]], *, pace: bool = False
) -> Behaviour:
    """A behaviour that plays ``recording`` back; ``pace`` keeps the recorded gaps."""
    lines = read_recording(recording) if isinstance(recording, str | Path) else list(recording)
    first = min((line["conn"] for line in lines), default=1)
    lines = [line for line in lines if line["conn"] == first]
    # Steps: (expected client kind or None for "right after setup", [(t, server frame)...])
    steps: list[tuple[str | None, list[tuple[float, dict[str, Any]]]]] = [(None, [])]
    for line in lines:
        frame = line["frame"]
        if line["dir"] == "client":
            if "setup" in frame:
                continue
            steps.append((_kind(frame), []))
        elif "setupComplete" not in frame:
            steps[-1][1].append((line["t"], _restore(frame)))

    async def behaviour(conn: EmulatorConnection) -> None:
        try:
            for expected, frames in steps:
                if expected is not None:
                    message = await conn.receive()
                    got = to_camel(type(message).__name__[:1].lower() + type(message).__name__[1:])
                    if got != expected:
                        await conn.close(1007, f"replay: expected {expected}, got {got}")
                        return
                previous = frames[0][0] if frames else 0.0
                for t, frame in frames:
                    if pace:
                        await trio.sleep(max(0.0, t - previous))
                        previous = t
                    await conn.send_raw(dumps(frame).encode())
            while True:  # the recording is over: keep listening until the client leaves
                await conn.receive()
        except ClientGone:
            return

    return behaviour
