"""Recording a session's frames to JSON Lines, with secrets removed and audio optionally elided.

One line per frame: ``{"t": seconds since the recording began, "dir": "client"|"server",
"conn": connection number, "frame": the frame's JSON}``. Resumption handles are replaced by
``"***"``; with ``elide_audio`` every base64 media payload becomes ``"<elided N bytes>"`` (the
emulator's replay turns it back into N bytes of silence). Credentials never reach a frame (they
travel in headers), and the recorder scrubs anything that looks like one anyway.

The file is written synchronously from the event loop: recording is a debugging aid, meant
for development, not for a production hot path.
"""

import base64
import json
import time
from pathlib import Path
from typing import IO, Any

from ._auth import redact

_MEDIA_KEYS = frozenset({"data", "voiceSampleAudio", "consentAudio"})
_HANDLE_KEYS = frozenset({"newHandle", "handle"})


def _scrub(value: Any, elide_audio: bool) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in _HANDLE_KEYS and isinstance(item, str) and item:
                out[key] = "***"
            elif elide_audio and key in _MEDIA_KEYS and isinstance(item, str):
                size = len(base64.b64decode(item + "=" * (-len(item) % 4), altchars=b"-_"))
                out[key] = f"<elided {size} bytes>"
            else:
                out[key] = _scrub(item, elide_audio)
        return out
    if isinstance(value, list):
        return [_scrub(item, elide_audio) for item in value]
    if isinstance(value, str):
        return redact(value)
    return value


class Recording:
    """Write a session's frames to ``path`` (or an open text file). Pass it to
    ``open_live_session(..., recording=Recording("session.jsonl"))``."""

    def __init__(self, path: str | Path | IO[str], *, elide_audio: bool = False) -> None:
        self._owned = isinstance(path, str | Path)
        self._file: IO[str] = (
            open(path, "w", encoding="utf-8") if isinstance(path, str | Path) else path
        )
        self.elide_audio = elide_audio
        self._start = time.monotonic()
        self.frames = 0

    def write(self, direction: str, connection: int, data: str | bytes) -> None:
        try:
            frame: Any = json.loads(data)
        except ValueError:
            frame = {
                "undecodable": redact(
                    data.decode("utf-8", "replace") if isinstance(data, bytes) else data
                )[:200]
            }
        line = {
            "t": round(time.monotonic() - self._start, 6),
            "dir": direction,
            "conn": connection,
            "frame": _scrub(frame, self.elide_audio),
        }
        self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        self.frames += 1

    def close(self) -> None:
        self._file.flush()
        if self._owned:
            self._file.close()


def read_recording(path: str | Path) -> list[dict[str, Any]]:
    """The lines of a recording, parsed."""
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]
