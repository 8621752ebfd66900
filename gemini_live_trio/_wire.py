"""The one place that knows wire (camelCase JSON) names, and the cattrs converter built on them.

Rules (wire-protocol.md §1.1): bytes are base64 (both alphabets accepted, standard emitted),
int64 fields travel as JSON strings, durations as ``"1.5s"``, enums that this version does not
know stay plain strings, ``None`` fields are omitted. Server frames are read leniently (unknown
keys ignored but kept in ``event.raw``); client frames, read only by the emulator, are read
strictly (unknown keys rejected with the server's own wording) but in camelCase *or* snake_case,
as the real server does. No I/O, no clock.
"""

import base64
import binascii
import collections.abc
import enum
import json
import json.scanner
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Union

import attrs
from cattrs import Converter
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from . import _events as ev
from ._content import Blob as _Blob
from ._content import Content as _Content
from ._content import Part as _Part

try:  # optional speed-ups (the ``fast`` extra)
    import pybase64 as _b64

    def _b64decode(value: str) -> bytes:
        return _b64.b64decode(value, validate=True)  # SIMD; rejects stray characters

    _b64encode: Callable[[bytes], bytes] = _b64.b64encode
except ImportError:  # pragma: no cover - depends on the environment

    def _b64decode(value: str) -> bytes:
        return binascii.a2b_base64(value, strict_mode=True)  # rejects stray characters

    _b64encode = base64.b64encode

#: What ``json.loads`` ends up calling (typeshed types its argument as the C class itself).
_scan_once: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
    json.JSONDecoder()  # type: ignore[arg-type]
)
_JSON_SPACE = " \t\n\r"


def _stdlib_loads(data: str | bytes) -> Any:
    """``json.loads``, minus its per-call overhead on the usual frame (UTF-8, no leading
    whitespace): the C scanner directly, 1.5 µs less per audio frame. Anything else, and every
    error, goes through ``json.loads`` itself (same results, same messages)."""
    if isinstance(data, str):
        text = data
    else:
        try:
            text = data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return json.loads(data)  # UTF-16/32 (json.loads detects them), or the error
    try:
        obj, end = _scan_once(text, 0)
    except (StopIteration, ValueError):
        return json.loads(data)
    if end != len(text) and text[end:].strip(_JSON_SPACE):
        return json.loads(data)  # raises "Extra data"
    return obj


try:
    import orjson as _orjson

    _json_loads: Callable[[str | bytes], Any] = _orjson.loads

    def dumps(obj: Any) -> str:
        """Serialise one message as compact JSON text."""
        return _orjson.dumps(obj).decode()

except ImportError:  # pragma: no cover - depends on the environment
    _json_loads = _stdlib_loads
    _encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

    def dumps(obj: Any) -> str:
        """Serialise one message as compact JSON text."""
        return _encoder.encode(obj)


class WireError(ValueError):
    """A frame that does not decode. ``reason`` reads like the real server's 1007 reasons."""


#: Top-level keys of client messages, camelCase, and their classes.
CLIENT_KEYS: dict[str, type[ev.ClientMessage]] = {
    "setup": ev.Setup,
    "clientContent": ev.ClientContent,
    "realtimeInput": ev.RealtimeInput,
    "toolResponse": ev.ToolResponse,
}
#: Top-level keys of server messages and their event classes.
SERVER_KEYS: dict[str, type[ev.ServerEvent]] = {
    "setupComplete": ev.SetupComplete,
    "serverContent": ev.ServerContent,
    "toolCall": ev.ToolCall,
    "toolCallCancellation": ev.ToolCallCancellation,
    "goAway": ev.GoAway,
    "sessionResumptionUpdate": ev.SessionResumptionUpdate,
    "voiceActivityDetectionSignal": ev.VoiceActivityDetectionSignal,
    "voiceActivity": ev.VoiceActivity,
    "usageMetadata": ev.UsageMetadata,
}
_KEY_OF: dict[type, str] = {cls: key for key, cls in (CLIENT_KEYS | SERVER_KEYS).items()}
#: The snake_case spellings the real server also accepts (the official SDK sends them).
_SNAKE_CLIENT_KEYS: dict[str, type[ev.ClientMessage]] = {
    "client_content": ev.ClientContent,
    "realtime_input": ev.RealtimeInput,
    "tool_response": ev.ToolResponse,
}

#: Python attribute names whose wire name is not simply their camelCase.
_RENAMES: dict[tuple[type, str], str] = {(ev.VoiceActivity, "voice_activity_type"): "type"}
#: Vertex AI spellings of usage fields, folded into the Gemini API ones on the way in.
_VERTEX_USAGE = {
    "candidatesTokenCount": "responseTokenCount",
    "candidatesTokensDetails": "responseTokensDetails",
}
_GEMINI_TO_VERTEX_USAGE = {v: k for k, v in _VERTEX_USAGE.items()}
#: Fields that are never on the wire.
_LOCAL_FIELDS = frozenset({"raw"})


def to_camel(name: str) -> str:
    """``response_token_count`` -> ``responseTokenCount``."""
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def wire_name(cls: type, attr: str) -> str:
    return _RENAMES.get((cls, attr)) or to_camel(attr)


def _wire_fields(cls: type) -> "list[attrs.Attribute[Any]]":
    return [a for a in attrs.fields(cls) if a.name.lstrip("_") not in _LOCAL_FIELDS]


# --------------------------------------------------------------------------- scalar hooks


def decode_b64(value: Any) -> bytes:
    """Base64 to bytes, standard or URL-safe alphabet, padding optional."""
    if not isinstance(value, str):
        raise WireError(f"expected a base64 string, got {type(value).__name__}")
    if "-" in value or "_" in value:
        value = value.replace("-", "+").replace("_", "/")
    if len(value) % 4:
        value += "=" * (-len(value) % 4)
    try:
        return _b64decode(value)
    except (binascii.Error, ValueError) as exc:
        raise WireError(f"invalid base64 data: {exc}") from None


def encode_b64(value: bytes) -> str:
    return _b64encode(value).decode("ascii")


def parse_duration(value: Any) -> timedelta:
    """``"1.5s"`` (protobuf Duration JSON) or a number of seconds."""
    if isinstance(value, str) and value.endswith("s"):
        value = value[:-1]
    try:
        return timedelta(seconds=float(value))
    except (TypeError, ValueError, OverflowError):
        raise WireError(f"invalid duration {value!r}") from None


def format_duration(value: timedelta) -> str:
    text = f"{value.total_seconds():.9f}".rstrip("0").rstrip(".")
    return f"{text}s"


def _parse_int(value: Any, _: Any = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise WireError(f"expected an integer, got {value!r}")
    try:
        number = float(value) if isinstance(value, str) and "." in value else value
        result = int(number)
    except (TypeError, ValueError, OverflowError):
        raise WireError(f"expected an integer, got {value!r}") from None
    if isinstance(number, float) and number != result:
        raise WireError(f"expected an integer, got {value!r}")
    return result


def _parse_bool(value: Any, _: Any = None) -> bool:
    if not isinstance(value, bool):
        raise WireError(f"expected true or false, got {value!r:.40}")
    return value


def _parse_str(value: Any, _: Any = None) -> str:
    if not isinstance(value, str):
        raise WireError(f"expected a string, got {value!r:.40}")
    return value


def _parse_float(value: Any, _: Any = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(f"expected a number, got {value!r:.40}")
    return float(value)


def _is_sequence(tp: Any) -> bool:
    origin: Any = typing.get_origin(tp)
    return origin is collections.abc.Sequence


def _is_lenient_enum(tp: Any) -> bool:
    """``SomeStrEnum | str`` (optionally ``| None``): keep unknown values as plain strings."""
    if typing.get_origin(tp) not in (Union, types.UnionType):
        return False
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return (
        len(args) == 2
        and str in args
        and any(isinstance(a, type) and issubclass(a, enum.Enum) for a in args)
    )


def _lenient_enum_hook(tp: Any) -> Callable[[Any, Any], Any]:
    enum_cls = next(
        a for a in typing.get_args(tp) if isinstance(a, type) and issubclass(a, enum.Enum)
    )
    members = {m.value: m for m in enum_cls}

    def structure(value: Any, _: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise WireError(f"expected an enum name, got {value!r}")
        return members.get(value, value)

    return structure


# --------------------------------------------------------------------------- the converter


def _make_converter() -> Converter:
    conv = Converter(detailed_validation=False)
    conv.register_structure_hook(bytes, lambda v, _: decode_b64(v))
    conv.register_unstructure_hook(bytes, encode_b64)
    conv.register_structure_hook(timedelta, lambda v, _: parse_duration(v))
    conv.register_unstructure_hook(timedelta, format_duration)
    conv.register_structure_hook(int, _parse_int)
    conv.register_structure_hook(bool, _parse_bool)
    conv.register_structure_hook(str, _parse_str)
    conv.register_structure_hook(float, _parse_float)
    conv.register_structure_hook(ev.Int64, _parse_int)
    conv.register_unstructure_hook(ev.Int64, str)
    conv.register_structure_hook_factory(_is_lenient_enum, _lenient_enum_hook)

    def sequence_hook(tp: Any) -> Callable[[Any, Any], Any]:
        (item,) = typing.get_args(tp)
        inner = conv.get_structure_hook(item) if item is not Any else None

        def structure(value: Any, _: Any) -> Any:
            if not isinstance(value, list):  # a str is a Sequence too: never split it
                raise WireError(f"expected a list, got {value!r:.40}")
            if inner is None:
                return tuple(value)
            return tuple([inner(v, item) for v in value])

        return structure

    conv.register_structure_hook_factory(_is_sequence, sequence_hook)
    conv.register_structure_hook(Any, lambda v, _: v)

    def overrides(cls: type) -> dict[str, Any]:
        found: dict[str, Any] = {
            a.name: override(rename=wire_name(cls, a.name)) for a in _wire_fields(cls)
        }
        found.update({a.name: override(omit=True) for a in attrs.fields(cls) if a.name == "raw"})
        return found

    def structure_factory(cls: type) -> Callable[[Any, Any], Any]:
        inner: Callable[[Any, Any], Any] = make_dict_structure_fn(
            cls, conv, _cattrs_forbid_extra_keys=False, **overrides(cls)
        )
        fn = inner
        if cls is ev.UsageMetadata:

            def fn(data: Any, tp: Any) -> Any:
                if isinstance(data, Mapping) and any(k in data for k in _VERTEX_USAGE):
                    data = {_VERTEX_USAGE.get(k, k): v for k, v in data.items()}
                return inner(data, tp)

        def checked(data: Any, tp: Any) -> Any:
            if not isinstance(data, Mapping):
                raise WireError(f"expected an object for {cls.__name__}, got {data!r:.60}")
            return fn(data, tp)

        return checked

    def unstructure_factory(cls: type) -> Callable[[Any], Any]:
        return make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **overrides(cls))

    conv.register_structure_hook_factory(attrs.has, structure_factory)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return conv


#: The converter. Never use cattrs' global one.
converter = _make_converter()

_structure = converter.structure
_unstructure = converter.unstructure
_SERVER_STRUCTURERS = {key: converter.get_structure_hook(cls) for key, cls in SERVER_KEYS.items()}
for _cls in (*CLIENT_KEYS.values(), *SERVER_KEYS.values()):
    if issubclass(_cls, ev.ServerEvent):
        _cls._known = frozenset(wire_name(_cls, a.name) for a in _wire_fields(_cls))


# --------------------------------------------------------------------------- frames


def loads(data: str | bytes) -> Any:
    """Parse one frame's JSON (text or binary frame; pretty-printed is fine)."""
    try:
        return _json_loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise WireError(f"not valid JSON: {exc}") from None


#: serverContent flags the fast path takes (wire name -> attribute).
_FAST_FLAGS = {
    "turnComplete": "turn_complete",
    "generationComplete": "generation_complete",
    "interrupted": "interrupted",
}


def _fast_turn(turn: Any) -> _Content | None:
    """``{"role"?: str, "parts": [{"inlineData": {"mimeType", "data"}} | {"text": str}, ...]}``
    built directly, else ``None``."""
    if type(turn) is not dict:
        return None
    role = turn.get("role")
    if len(turn) != (1 if role is None else 2) or (role is not None and type(role) is not str):
        return None
    parts = turn.get("parts")
    if type(parts) is not list or not parts:
        return None
    built = []
    for part in parts:
        if type(part) is not dict or len(part) != 1:
            return None
        blob = part.get("inlineData")
        if blob is not None:
            if type(blob) is not dict or len(blob) != 2:
                return None
            mime = blob.get("mimeType")
            data = blob.get("data")
            if type(mime) is not str or type(data) is not str:
                return None
            built.append(_Part(inline_data=_Blob(mime_type=mime, data=decode_b64(data))))
        else:
            text = part.get("text")
            if type(text) is not str:
                return None
            built.append(_Part(text=text))
    return _Content(role=role, parts=tuple(built))


def _fast_server_content(value: Any) -> ev.ServerContent | None:
    """The frames of every turn, built directly (3-4x cheaper than the generic path): model
    output made of audio and text parts, and the ``turnComplete`` / ``generationComplete`` /
    ``interrupted`` flags. Anything else, or any extra key, returns ``None`` and takes the
    generic path. Such an event has nothing unknown to keep, so its ``raw`` stays ``None``
    (which also keeps queued audio small: no parsed JSON per frame)."""
    if type(value) is not dict or not value:
        return None
    turn = value.get("modelTurn")
    if turn is not None and len(value) == 1:  # the usual frame: model output alone
        content = _fast_turn(turn)
        return None if content is None else ev.ServerContent(model_turn=content)
    fields: dict[str, Any] = {}
    for key, item in value.items():
        if key == "modelTurn":
            content = _fast_turn(item)
            if content is None:
                return None
            fields["model_turn"] = content
        else:
            name = _FAST_FLAGS.get(key)
            if name is None or type(item) is not bool:
                return None
            fields[name] = item
    return ev.ServerContent(**fields)


def decode_server_frame(data: str | bytes) -> list[ev.ServerEvent]:
    """A server frame -> one event per top-level key, in frame order."""
    obj = loads(data)
    if type(obj) is dict and len(obj) == 1 and "serverContent" in obj:
        fast = _fast_server_content(obj["serverContent"])
        if fast is not None:
            return [fast]
    if not isinstance(obj, dict):
        raise WireError(f"expected a JSON object, got {type(obj).__name__}")
    events: list[ev.ServerEvent] = []
    for key, value in obj.items():
        structure = _SERVER_STRUCTURERS.get(key)
        if structure is None:
            events.append(ev.UnknownServerMessage(key=key, value=value, raw=value))
            continue
        try:
            event = structure(value, SERVER_KEYS[key])
        except WireError as exc:
            raise WireError(f"{key}: {exc}") from None
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise WireError(f"{key}: {type(exc).__name__}: {exc}") from None
        object.__setattr__(event, "raw", value)
        events.append(event)
    return events


def _audio_only(message: ev.ClientMessage) -> _Blob | None:
    """The blob of a ``realtimeInput`` that carries an audio chunk and nothing else (the
    upstream hot path: the server takes one field per message), else ``None``."""
    if (
        type(message) is ev.RealtimeInput
        and message.video is None
        and message.text is None
        and message.activity_start is None
        and message.activity_end is None
        and message.audio_stream_end is None
        and message.media_chunks is None
    ):
        return message.audio
    return None


def encode_client_message(message: ev.ClientMessage) -> dict[str, Any]:
    """A client message as its JSON object (canonical camelCase)."""
    blob = _audio_only(message)
    if blob is not None:
        return {
            "realtimeInput": {"audio": {"mimeType": blob.mime_type, "data": encode_b64(blob.data)}}
        }
    return {_KEY_OF[type(message)]: _unstructure(message)}


#: mimeType -> its JSON string literal (a handful of distinct values per process).
_MIME_LITERALS: dict[str, str] = {}


def encode_client_frame(message: ev.ClientMessage) -> str:
    """A client message as the text of its frame. An audio chunk, the upstream hot path, is
    spelled out directly: the same JSON as :func:`dumps` would give, without building and
    walking a dict per chunk."""
    blob = _audio_only(message)
    if blob is None:
        return dumps({_KEY_OF[type(message)]: _unstructure(message)})
    mime = _MIME_LITERALS.get(blob.mime_type)
    if mime is None:
        mime = dumps(blob.mime_type)
        if len(_MIME_LITERALS) < 64:
            _MIME_LITERALS[blob.mime_type] = mime
    data = encode_b64(blob.data)  # base64 needs no JSON escaping
    return '{"realtimeInput":{"audio":{"mimeType":' + mime + ',"data":"' + data + '"}}}'


def encode_server_event(event: ev.ServerEvent, *, vertex: bool = False) -> dict[str, Any]:
    """A server event as its JSON object; ``vertex`` spells usage the Vertex AI way."""
    body = _unstructure(event)
    if vertex and type(event) is ev.UsageMetadata:
        body = {_GEMINI_TO_VERTEX_USAGE.get(k, k): v for k, v in body.items()}
    return {_KEY_OF[type(event)]: body}


# --------------------------------------------------------------------------- strict client side


def _nested_attrs_class(tp: Any) -> tuple[type | None, bool]:
    """(attrs class inside ``tp``, whether ``tp`` is a sequence of it)."""
    if attrs.has(tp):
        return tp, False
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        for arg in args:
            found, is_seq = _nested_attrs_class(arg)
            if found is not None:
                return found, is_seq
        return None, False
    if origin is not None and isinstance(origin, type) and issubclass(origin, Sequence):
        if args and origin is not str:
            found, _ = _nested_attrs_class(args[0])
            return found, found is not None
    return None, False


_SCHEMAS: dict[type, dict[str, tuple[str, type | None, bool]]] = {}


def _schema(cls: type) -> dict[str, tuple[str, type | None, bool]]:
    """wire or snake name -> (camel wire name, nested attrs class, is sequence)."""
    found = _SCHEMAS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = {}
        for a in _wire_fields(cls):
            nested, is_seq = _nested_attrs_class(hints[a.name])
            entry = (wire_name(cls, a.name), nested, is_seq)
            found[entry[0]] = entry
            found[a.name] = entry
        _SCHEMAS[cls] = found
    return found


def _normalise(cls: type, data: Any, path: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise WireError(f"Invalid value at '{path}' ({type(data).__name__}), expected an object.")
    schema = _schema(cls)
    out: dict[str, Any] = {}
    for key, value in data.items():
        entry = schema.get(key)
        if entry is None:
            raise WireError(
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{path}': "
                "Cannot find field."
            )
        camel, nested, is_seq = entry
        if nested is not None and value is not None:
            if is_seq:
                if not isinstance(value, list):
                    raise WireError(f"Invalid value at '{path}.{camel}', expected a list.")
                value = [_normalise(nested, v, f"{path}.{camel}[{i}]") for i, v in enumerate(value)]
            else:
                value = _normalise(nested, value, f"{path}.{camel}")
        out[camel] = value
    return out


def decode_client_frame(data: str | bytes) -> ev.ClientMessage:
    """A client frame, read as the real server does: exactly one top-level key, camelCase or
    snake_case at every level, unknown names rejected. Raises :class:`WireError`."""
    obj = loads(data)
    if not isinstance(obj, dict) or len(obj) != 1:
        raise WireError("Invalid JSON payload: expected exactly one message field.")
    ((key, value),) = obj.items()
    cls = CLIENT_KEYS.get(key) or _SNAKE_CLIENT_KEYS.get(key)
    camel = _KEY_OF[cls] if cls is not None else key
    if cls is None:
        raise WireError(f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')
    body = _normalise(cls, value, camel)
    try:
        return converter.structure(body, cls)
    except WireError as exc:
        raise WireError(f"Invalid value at '{camel}': {exc}") from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise WireError(
            f"Request contains an invalid argument ({camel}: {type(exc).__name__}: {exc})."
        ) from None
