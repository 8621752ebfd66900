"""The sans-I/O state machine (``_protocol.py``) in both roles. No sockets, no clock."""

import json
from datetime import timedelta

import pytest

from gemini_live_trio import _content as c
from gemini_live_trio import _events as ev
from gemini_live_trio._exceptions import FrameDecodeError, ProtocolError, UsageError
from gemini_live_trio._protocol import LiveProtocol, Role, State, preview

SETUP = ev.Setup(model="models/gemini-2.5-flash-native-audio-preview-12-2025")
TEXT = ev.RealtimeInput(text="hi")


def open_client(session_id: str | None = "sess-1") -> LiveProtocol:
    proto = LiveProtocol(Role.CLIENT)
    proto.send(SETUP)
    body = {"sessionId": session_id} if session_id else {}
    proto.receive(json.dumps({"setupComplete": body}).encode())
    assert proto.state is State.OPEN
    return proto


# =========================================================================== client role


def test_client_starts_idle() -> None:
    proto = LiveProtocol()
    assert proto.role is Role.CLIENT
    assert proto.state is State.IDLE
    assert proto.session_id is None
    assert proto.client_messages == 0
    assert proto.resumption_handle is None
    assert proto.last_consumed_index is None
    assert proto.go_away is None


def test_setup_is_sent_as_a_text_frame_and_waits_for_setup_complete() -> None:
    proto = LiveProtocol(Role.CLIENT)
    frame = proto.send(SETUP)
    assert isinstance(frame, str)
    assert json.loads(frame) == {
        "setup": {"model": "models/gemini-2.5-flash-native-audio-preview-12-2025"}
    }
    assert proto.state is State.SETTING_UP
    assert proto.client_messages == 0  # setup is index 0, not counted


@pytest.mark.parametrize(
    "message",
    [
        TEXT,
        ev.ClientContent(turn_complete=True),
        ev.ToolResponse(function_responses=[c.FunctionResponse(id="1", name="f")]),
    ],
)
def test_setup_must_be_first(message: ev.ClientMessage) -> None:
    proto = LiveProtocol(Role.CLIENT)
    with pytest.raises(UsageError, match="setupComplete"):
        proto.send(message)
    assert proto.state is State.IDLE


def test_sending_before_setup_complete_is_a_usage_error() -> None:
    proto = LiveProtocol(Role.CLIENT)
    proto.send(SETUP)
    with pytest.raises(UsageError, match="wait for setupComplete"):
        proto.send(TEXT)
    assert proto.client_messages == 0
    assert isinstance(UsageError("x"), TypeError)


def test_setup_only_once() -> None:
    proto = LiveProtocol(Role.CLIENT)
    proto.send(SETUP)
    with pytest.raises(UsageError, match="only once"):
        proto.send(SETUP)
    proto.receive(b'{"setupComplete": {}}')
    with pytest.raises(UsageError, match="only once"):
        proto.send(SETUP)
    assert proto.state is State.OPEN


def test_setup_complete_opens_and_records_the_session_id() -> None:
    proto = LiveProtocol(Role.CLIENT)
    proto.send(SETUP)
    events = proto.receive(b'{\n  "setupComplete": {"sessionId": "sess-42"}\n}\n')
    assert events == [ev.SetupComplete(session_id="sess-42")]
    assert proto.state is State.OPEN
    assert proto.session_id == "sess-42"


def test_session_id_is_kept_when_a_later_setup_complete_has_none() -> None:
    proto = open_client("sess-1")
    proto.receive(b'{"setupComplete": {}}')
    assert proto.session_id == "sess-1"
    proto.receive(b'{"setupComplete": {"sessionId": "sess-2"}}')
    assert proto.session_id == "sess-2"


def test_setup_complete_without_setup_does_not_open() -> None:
    proto = LiveProtocol(Role.CLIENT)
    proto.receive(b'{"setupComplete": {"sessionId": "s"}}')
    assert proto.state is State.IDLE
    with pytest.raises(UsageError):
        proto.send(TEXT)


def test_client_messages_count_from_one_after_setup() -> None:
    proto = open_client()
    assert proto.client_messages == 0
    proto.send(TEXT)
    assert proto.client_messages == 1
    proto.send(ev.ClientContent(turns=[c.Content.user("x")], turn_complete=True))
    proto.send(ev.RealtimeInput(audio_stream_end=True))
    assert proto.client_messages == 3
    assert "sent=3" in repr(proto)


def test_sent_frames_are_canonical_camel_case() -> None:
    proto = open_client()
    frame = proto.send(
        ev.ToolResponse(
            function_responses=[
                c.FunctionResponse(id="fc-1", name="f", response={"output": 1}, will_continue=False)
            ]
        )
    )
    assert json.loads(frame) == {
        "toolResponse": {
            "functionResponses": [
                {"id": "fc-1", "name": "f", "response": {"output": 1}, "willContinue": False}
            ]
        }
    }


def test_client_role_refuses_to_send_server_events() -> None:
    proto = open_client()
    with pytest.raises(UsageError, match="client messages"):
        proto.send(ev.ServerContent(turn_complete=True))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="only the server role"):
        proto.send_frame([ev.ServerContent(turn_complete=True)])


def test_resumption_handle_is_tracked_only_when_resumable() -> None:
    proto = open_client()
    proto.receive(b'{"sessionResumptionUpdate": {"newHandle": "h1", "resumable": true}}')
    assert proto.resumption_handle == "h1"
    proto.receive(b'{"sessionResumptionUpdate": {"newHandle": "h2", "resumable": false}}')
    assert proto.resumption_handle == "h1"
    proto.receive(b'{"sessionResumptionUpdate": {"newHandle": "h3"}}')
    assert proto.resumption_handle == "h1"
    proto.receive(b'{"sessionResumptionUpdate": {"newHandle": "", "resumable": true}}')
    assert proto.resumption_handle == "h1"
    proto.receive(b'{"sessionResumptionUpdate": {"resumable": false}}')
    assert proto.resumption_handle == "h1"
    proto.receive(b'{"sessionResumptionUpdate": {"newHandle": "h4", "resumable": true}}')
    assert proto.resumption_handle == "h4"


def test_last_consumed_client_message_index_is_recorded() -> None:
    proto = open_client()
    for _ in range(20):
        proto.send(TEXT)
    proto.receive(
        b'{"sessionResumptionUpdate": {"newHandle": "h", "resumable": true,'
        b' "lastConsumedClientMessageIndex": "17"}}'
    )
    assert proto.last_consumed_index == 17
    assert proto.client_messages == 20
    # an update without the index leaves the last one
    proto.receive(b'{"sessionResumptionUpdate": {"newHandle": "h2", "resumable": true}}')
    assert proto.last_consumed_index == 17
    proto.receive(b'{"sessionResumptionUpdate": {"lastConsumedClientMessageIndex": "0"}}')
    assert proto.last_consumed_index == 0


def test_go_away_is_recorded() -> None:
    proto = open_client()
    events = proto.receive(b'{"goAway": {"timeLeft": "50s"}}')
    assert events == [ev.GoAway(time_left=timedelta(seconds=50))]
    assert proto.go_away == ev.GoAway(time_left=timedelta(seconds=50))
    proto.receive(b'{"goAway": {"timeLeft": "1.5s"}}')
    assert proto.go_away == ev.GoAway(time_left=timedelta(seconds=1.5))


def test_receive_returns_events_in_frame_order_and_tracks_each() -> None:
    proto = LiveProtocol(Role.CLIENT)
    proto.send(SETUP)
    events = proto.receive(
        b'{"setupComplete": {"sessionId": "s"},'
        b' "sessionResumptionUpdate": {"newHandle": "h", "resumable": true},'
        b' "goAway": {"timeLeft": "9s"}, "futureThing": 1}'
    )
    assert [type(e) for e in events] == [
        ev.SetupComplete,
        ev.SessionResumptionUpdate,
        ev.GoAway,
        ev.UnknownServerMessage,
    ]
    assert (proto.state, proto.session_id, proto.resumption_handle) == (State.OPEN, "s", "h")
    assert proto.go_away == ev.GoAway(time_left=timedelta(seconds=9))


def test_malformed_frame_raises_frame_decode_error_with_a_preview() -> None:
    proto = open_client()
    payload = "A" * 5000
    frame = '{"serverContent": {"turnComplete": "nope", "x": "' + payload + '"}}'
    with pytest.raises(FrameDecodeError) as info:
        proto.receive(frame)
    err = info.value
    assert isinstance(err, ProtocolError)
    assert "serverContent" in err.message and "expected true or false" in err.message
    assert err.preview.startswith('{"serverContent"')
    assert err.preview.endswith('"x": "<591 chars>')  # long base64-like runs elided
    assert payload not in str(err)
    assert len(err.preview) <= 160
    assert proto.state is State.OPEN  # a bad frame does not end the connection by itself


def test_preview_handles_bytes_and_elides_long_tokens() -> None:
    assert preview(b'{"a": 1}') == '{"a": 1}'
    assert preview(b"\xff\xfe{") == "\ufffd\ufffd{"
    assert preview('{"d": "' + "Q" * 60 + '"}', limit=30) == '{"d": "<60 chars>"}'
    assert preview("short-token " * 3) == "short-token " * 3
    assert len(preview("z " * 500)) == 160


def test_closed_refuses_to_send() -> None:
    proto = open_client()
    proto.closed()
    assert proto.state is State.CLOSED
    with pytest.raises(UsageError, match="closed"):
        proto.send(TEXT)
    fresh = LiveProtocol(Role.CLIENT)
    fresh.closed()
    with pytest.raises(UsageError, match="closed"):
        fresh.send(SETUP)


# =========================================================================== server role


def test_server_first_message_must_be_setup() -> None:
    server = LiveProtocol(Role.SERVER)
    with pytest.raises(ProtocolError) as info:
        server.receive('{"realtimeInput": {"text": "hi"}}')
    assert info.value.close_code == 1007
    assert info.value.close_reason == "The first message must be setup."
    assert server.state is State.IDLE


def test_server_accepts_setup_once() -> None:
    server = LiveProtocol(Role.SERVER)
    assert server.receive('{"setup": {"model": "models/m"}}') == [ev.Setup(model="models/m")]
    assert server.state is State.SETTING_UP
    with pytest.raises(ProtocolError) as info:
        server.receive(b'{"setup": {"model": "models/m"}}')
    assert info.value.close_code == 1007
    assert "only once" in info.value.close_reason


def test_server_counts_client_messages_after_setup() -> None:
    server = LiveProtocol(Role.SERVER)
    server.receive('{"setup": {"model": "models/m"}}')
    assert server.client_messages == 0
    assert server.receive('{"realtime_input": {"text": "a"}}') == [ev.RealtimeInput(text="a")]
    server.receive('{"clientContent": {"turnComplete": true}}')
    assert server.client_messages == 2


def test_server_rejects_unknown_fields_with_1007_and_the_servers_reason() -> None:
    server = LiveProtocol(Role.SERVER)
    with pytest.raises(ProtocolError) as info:
        server.receive('{"setup": {"model": "m", "generationConfig": {"x": 1}}}')
    assert info.value.close_code == 1007
    assert info.value.close_reason == (
        "Invalid JSON payload received. Unknown name \"x\" at 'setup.generationConfig': "
        "Cannot find field."
    )
    assert not isinstance(info.value, FrameDecodeError)


@pytest.mark.parametrize("frame", ["", "nope", "{}", "[1]", '{"setup": {}, "clientContent": {}}'])
def test_server_rejects_undecodable_frames_with_1007(frame: str) -> None:
    with pytest.raises(ProtocolError) as info:
        LiveProtocol(Role.SERVER).receive(frame)
    assert info.value.close_code == 1007


def test_server_sends_binary_frames_and_opens_on_setup_complete() -> None:
    server = LiveProtocol(Role.SERVER)
    server.receive('{"setup": {"model": "models/m"}}')
    frame = server.send(ev.SetupComplete(session_id="sess-9"))
    assert isinstance(frame, bytes)
    assert json.loads(frame) == {"setupComplete": {"sessionId": "sess-9"}}
    assert server.state is State.OPEN
    assert server.session_id == "sess-9"


def test_server_role_refuses_to_send_client_messages() -> None:
    server = LiveProtocol(Role.SERVER)
    with pytest.raises(UsageError, match="server events"):
        server.send(SETUP)


def test_send_frame_puts_several_events_in_one_frame_in_order() -> None:
    server = LiveProtocol(Role.SERVER)
    frame = server.send_frame(
        [
            ev.ServerContent(turn_complete=True),
            ev.UsageMetadata(prompt_token_count=4, response_token_count=2, total_token_count=6),
        ]
    )
    assert isinstance(frame, bytes)
    assert list(json.loads(frame)) == ["serverContent", "usageMetadata"]
    assert json.loads(frame) == {
        "serverContent": {"turnComplete": True},
        "usageMetadata": {"promptTokenCount": 4, "responseTokenCount": 2, "totalTokenCount": 6},
    }
    assert LiveProtocol(Role.CLIENT).receive(frame) == [
        ev.ServerContent(turn_complete=True),
        ev.UsageMetadata(prompt_token_count=4, response_token_count=2, total_token_count=6),
    ]


def test_send_frame_with_setup_complete_opens() -> None:
    server = LiveProtocol(Role.SERVER)
    server.receive('{"setup": {"model": "models/m"}}')
    server.send_frame([ev.SetupComplete(session_id="s"), ev.ServerContent(turn_complete=True)])
    assert (server.state, server.session_id) == (State.OPEN, "s")


def test_vertex_server_spells_usage_the_vertex_way() -> None:
    server = LiveProtocol(Role.SERVER, vertex=True)
    usage = ev.UsageMetadata(
        response_token_count=2,
        response_tokens_details=[c.ModalityTokenCount(modality="AUDIO", token_count=2)],
    )
    expected = {
        "usageMetadata": {
            "candidatesTokenCount": 2,
            "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 2}],
        }
    }
    assert json.loads(server.send(usage)) == expected
    assert json.loads(server.send_frame([usage])) == expected
    assert json.loads(LiveProtocol(Role.SERVER).send(usage)) == {
        "usageMetadata": {
            "responseTokenCount": 2,
            "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 2}],
        }
    }


def test_send_frame_refuses_two_events_with_the_same_key() -> None:
    server = LiveProtocol(Role.SERVER)
    with pytest.raises(UsageError):
        server.send_frame(
            [ev.ServerContent(interrupted=True), ev.ServerContent(turn_complete=True)]
        )


def test_send_frame_refuses_after_close() -> None:
    server = LiveProtocol(Role.SERVER)
    server.closed()
    with pytest.raises(UsageError, match="closed"):
        server.send_frame([ev.ServerContent(turn_complete=True)])


# =========================================================================== both roles together


def test_client_and_server_talk_through_frames() -> None:
    client = LiveProtocol(Role.CLIENT)
    server = LiveProtocol(Role.SERVER)

    [setup] = server.receive(client.send(SETUP))
    assert setup == SETUP
    client.receive(server.send(ev.SetupComplete(session_id="sess-7")))
    assert client.state is State.OPEN and client.session_id == "sess-7"

    for text in ("one", "two", "three"):
        [msg] = server.receive(client.send(ev.RealtimeInput(text=text)))
        assert msg == ev.RealtimeInput(text=text)
    assert client.client_messages == server.client_messages == 3

    call = ev.ToolCall(function_calls=(c.FunctionCall(id="fc-1", name="f", args={"x": 1}),))
    [got] = client.receive(server.send(call))
    assert got == call
    [reply] = server.receive(client.send(got.reply({"fc-1": 42})))
    assert isinstance(reply, ev.ToolResponse)
    assert reply.function_responses[0].response == {"output": 42}

    update = ev.SessionResumptionUpdate(
        new_handle="h", resumable=True, last_consumed_client_message_index=server.client_messages
    )
    client.receive(server.send(update))
    assert client.resumption_handle == "h"
    assert client.last_consumed_index == 4 == client.client_messages
