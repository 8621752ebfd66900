"""Content building blocks shared by client and server messages.

Parts, blobs, function calls and responses, transcriptions and per-modality token counts.
Every class is a frozen, slotted, keyword-only attrs class with snake_case attributes; wire
(camelCase) names live only in ``_wire.py``. Optional wire fields default to ``None`` and are
omitted on the wire.
"""

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

import attrs


class WireObject:
    """Base of all wire classes: a short repr with unset fields left out and bytes elided."""

    __slots__ = ()

    def __repr__(self) -> str:
        shown = []
        for a in attrs.fields(type(self)):  # type: ignore[arg-type]
            value = getattr(self, a.name)
            if value is None or not a.repr:
                continue
            text = f"<{len(value)} bytes>" if isinstance(value, bytes) else repr(value)
            shown.append(f"{a.name}={text}")
        return f"{type(self).__name__}({', '.join(shown)})"


class Modality(StrEnum):
    """Response and token-count modalities."""

    TEXT = "TEXT"
    AUDIO = "AUDIO"
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    DOCUMENT = "DOCUMENT"
    MODALITY_UNSPECIFIED = "MODALITY_UNSPECIFIED"


class FunctionResponseScheduling(StrEnum):
    """When the model reacts to a NON_BLOCKING function's response."""

    INTERRUPT = "INTERRUPT"
    WHEN_IDLE = "WHEN_IDLE"
    SILENT = "SILENT"
    SCHEDULING_UNSPECIFIED = "SCHEDULING_UNSPECIFIED"


@attrs.frozen(kw_only=True, repr=False)
class Blob(WireObject):
    """Inline media: raw bytes plus a MIME type (base64 on the wire)."""

    mime_type: str
    data: bytes


@attrs.frozen(kw_only=True, repr=False)
class FileData(WireObject):
    """A reference to media stored elsewhere."""

    mime_type: str | None = None
    file_uri: str


@attrs.frozen(kw_only=True, repr=False)
class FunctionCall(WireObject):
    """One call the model asks the client to run."""

    id: str | None = None
    name: str
    args: Mapping[str, Any] | None = None

    def reply(
        self,
        output: Any = None,
        *,
        error: Any = None,
        scheduling: "FunctionResponseScheduling | str | None" = None,
        will_continue: bool | None = None,
    ) -> "FunctionResponse":
        """Build the response to this call (``{"output": ...}`` or ``{"error": ...}``)."""
        response: dict[str, Any] = {"error": error} if error is not None else {"output": output}
        return FunctionResponse(
            id=self.id,
            name=self.name,
            response=response,
            scheduling=scheduling,
            will_continue=will_continue,
        )


@attrs.frozen(kw_only=True, repr=False)
class FunctionResponse(WireObject):
    """The client's answer to a :class:`FunctionCall`, matched by ``id``."""

    id: str | None = None
    name: str
    response: Mapping[str, Any] | None = None
    scheduling: FunctionResponseScheduling | str | None = None
    will_continue: bool | None = None


@attrs.frozen(kw_only=True, repr=False)
class ExecutableCode(WireObject):
    """Code the model wrote and ran with the code-execution tool."""

    language: str | None = None
    code: str | None = None


@attrs.frozen(kw_only=True, repr=False)
class CodeExecutionResult(WireObject):
    """The outcome of an :class:`ExecutableCode` run."""

    outcome: str | None = None
    output: str | None = None


@attrs.frozen(kw_only=True, repr=False)
class Part(WireObject):
    """One piece of a :class:`Content`; exactly one payload field is normally set."""

    text: str | None = None
    inline_data: Blob | None = None
    file_data: FileData | None = None
    function_call: FunctionCall | None = None
    function_response: FunctionResponse | None = None
    executable_code: ExecutableCode | None = None
    code_execution_result: CodeExecutionResult | None = None
    thought: bool | None = None
    thought_signature: bytes | None = None


@attrs.frozen(kw_only=True, repr=False)
class Content(WireObject):
    """A turn: a role (``user`` or ``model``) and its parts."""

    role: str | None = None
    parts: Sequence[Part] | None = None

    @classmethod
    def user(cls, text: str) -> "Content":
        """A user turn holding one text part."""
        return cls(role="user", parts=(Part(text=text),))

    @classmethod
    def model(cls, text: str) -> "Content":
        """A model turn holding one text part (for seeding history)."""
        return cls(role="model", parts=(Part(text=text),))


@attrs.frozen(kw_only=True, repr=False)
class Transcription(WireObject):
    """Speech-to-text of the user's audio or the model's audio."""

    text: str | None = None
    finished: bool | None = None
    language_code: str | None = None
    speaker_label: str | None = None


@attrs.frozen(kw_only=True, repr=False)
class ModalityTokenCount(WireObject):
    """Token count for one modality."""

    modality: Modality | str | None = None
    token_count: int | None = None
