"""Recording a session to JSON Lines and replaying it through the emulator."""

import json
from pathlib import Path

import trio
from _helpers import MODEL, collect_turn, session_kwargs, start_emulator

from gemini_live_trio import (
    AudioTranscriptionConfig,
    ClientContent,
    InvalidArgument,
    LiveConfig,
    ReconnectPolicy,
    Recording,
    ServerContent,
    SessionOptions,
    open_live_session,
    read_recording,
)
from gemini_live_trio.testing import replay_recording

CONFIG = LiveConfig(output_audio_transcription=AudioTranscriptionConfig())


async def record(path: Path, emulator_base: dict[str, str], elide_audio: bool) -> list[object]:
    async with open_live_session(
        MODEL,
        config=CONFIG,
        recording=Recording(path, elide_audio=elide_audio),
        **emulator_base,
    ) as session:
        await session.send_text("My name is Alice.")
        return await collect_turn(session.events)


async def test_recording_scrubs_handles_and_elides_audio(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    emulator = await start_emulator(nursery)
    path = tmp_path / "session.jsonl"
    events = await record(path, session_kwargs(emulator), elide_audio=True)
    lines = read_recording(path)
    text = path.read_text()
    assert emulator.api_key not in text
    assert lines[0]["dir"] == "client" and "setup" in lines[0]["frame"]
    assert lines[1]["frame"]["setupComplete"]["sessionId"]
    assert any(line["frame"].get("clientContent") for line in lines)
    audio = [
        part["inlineData"]["data"]
        for line in lines
        for part in line["frame"].get("serverContent", {}).get("modelTurn", {}).get("parts", [])
    ]
    assert audio and all(a == "<elided 1920 bytes>" or a.startswith("<elided ") for a in audio)
    handles = [
        line["frame"]["sessionResumptionUpdate"]["newHandle"]
        for line in lines
        if line["frame"].get("sessionResumptionUpdate", {}).get("resumable")
    ]
    assert handles and set(handles) == {"***"}
    assert all(line["t"] >= 0 for line in lines)
    assert sum(1 for e in events if isinstance(e, ServerContent) and e.audio) == len(audio)


async def test_replay_reacts_to_the_client_and_restores_audio_length(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    live = await start_emulator(nursery)
    path = tmp_path / "session.jsonl"
    original = await record(path, session_kwargs(live), elide_audio=True)

    replayed = await start_emulator(nursery, behaviour=replay_recording(path))
    async with open_live_session(MODEL, config=CONFIG, **session_kwargs(replayed)) as session:
        await session.send_text("My name is Alice.")
        again = await collect_turn(session.events)

    def shape(events: list[object]) -> list[tuple[str, int, str | None]]:
        return [
            (type(e).__name__, len(e.audio), e.output_transcription_text)
            for e in events
            if isinstance(e, ServerContent)
        ]

    assert shape(again) == shape(original)
    audio = b"".join(e.audio for e in again if isinstance(e, ServerContent))
    assert audio and set(audio) == {0}  # elided audio comes back as silence


async def test_replay_refuses_a_different_client_message(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(line)
            for line in [
                {"t": 0, "dir": "client", "conn": 1, "frame": {"setup": {"model": "models/m"}}},
                {"t": 0.1, "dir": "client", "conn": 1, "frame": {"toolResponse": {}}},
            ]
        )
    )
    emulator = await start_emulator(nursery, behaviour=replay_recording(path))
    options = SessionOptions(reconnect=ReconnectPolicy.off())
    try:
        async with open_live_session(MODEL, options=options, **session_kwargs(emulator)) as s:
            await s.send(ClientContent(turns=None, turn_complete=True))
            async for _ in s.events:
                pass
    except InvalidArgument as exc:
        assert "replay: expected toolResponse, got clientContent" in str(exc)
    else:
        raise AssertionError("the replay must refuse the unexpected message")
