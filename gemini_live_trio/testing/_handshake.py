"""What the real service checks before a session starts, as pure functions.

The request path (which API, version and method), where the credential came from, and whether
a ``setup`` is acceptable: each refusal is the close code and reason text the real service uses
(wire-protocol.md §1.2-1.7, §6.1). No I/O here; :mod:`._server` applies the verdicts.
"""

import re
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import parse_qs

import attrs

from .._events import Setup
from .._models import REGISTRY, normalise_model_name

INTERNAL_ERROR = "Internal error encountered."
BAD_KEY = "API key not valid. Please pass a valid API key."
NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)

_GEMINI = re.compile(
    r"/ws/google\.ai\.generativelanguage\.(v1alpha|v1beta|v1)\.GenerativeService\."
    r"(BidiGenerateContent|BidiGenerateContentConstrained)"
)
_VERTEX = re.compile(
    r"/ws/google\.cloud\.aiplatform\.(v1|v1beta1)\.LlmBidiService/(BidiGenerateContent)"
)
_SLASHES = re.compile(r"/{2,}")
#: Setup fields v1beta does not know (v1alpha only): (path, camelCase name, snake_case name).
_V1ALPHA_ONLY = (
    ("setup", "proactivity", "proactivity"),
    ("setup.generationConfig", "enableAffectiveDialog", "enable_affective_dialog"),
)


@attrs.frozen
class Route:
    """The RPC a request path names."""

    api_version: str
    method: str
    #: True for Vertex AI's ``LlmBidiService``, False for the Gemini API's ``GenerativeService``.
    vertex: bool


@attrs.frozen
class Refusal:
    """Close the connection with this code and reason instead of starting the session."""

    code: int
    reason: str


def route(path: str) -> Route | None:
    """The RPC of a request path (repeated slashes collapsed, query ignored), else ``None``."""
    path = _SLASHES.sub("/", path.partition("?")[0])
    found = _GEMINI.fullmatch(path)
    if found:
        return Route(api_version=found[1], method=found[2], vertex=False)
    found = _VERTEX.fullmatch(path)
    if found:
        return Route(api_version=found[1], method=found[2], vertex=True)
    return None


def credential(headers: Mapping[str, str], query: str) -> str | None:
    """The credential a request carries: ``Authorization: Bearer|Token X``, then
    ``x-goog-api-key``, then the ``access_token`` or ``key`` query parameter."""
    scheme, _, value = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    if headers.get("x-goog-api-key", "").strip():
        return headers["x-goog-api-key"].strip()
    params = parse_qs(query)
    for name in ("access_token", "key"):
        if params.get(name):
            return params[name][0]
    return None


def check_credential(found: str | None, accepted: Collection[str]) -> Refusal | None:
    if found is None:
        return Refusal(1008, NO_KEY)
    if found not in accepted:
        return Refusal(1008, BAD_KEY)
    return None


def default_models() -> dict[str, frozenset[str]]:
    """Model name (no ``models/`` prefix) -> response modalities, from the library's registry."""
    return {name: info.response_modalities for name, info in REGISTRY.items()}


def check_setup(
    setup: Setup,
    frame: Any,
    where: Route,
    models: Mapping[str, Collection[str]],
) -> tuple[str, Refusal | None]:
    """The session's response modality, and the refusal if the service would refuse ``setup``.

    ``frame`` is the decoded JSON of the setup frame, for the field spelling the client used.
    """
    if where.api_version == "v1beta":
        unknown = _v1alpha_field(frame)
        if unknown is not None:
            return "", Refusal(1007, unknown)
    name = normalise_model_name(setup.model)
    if name not in models:
        return "", Refusal(1008, _not_found(setup.model, name, where))
    allowed = {str(m) for m in models[name]}
    gc = setup.generation_config
    requested = [str(m) for m in (gc.response_modalities or ())] if gc else []
    if len(requested) > 1 or any(m not in allowed for m in requested):
        return "", Refusal(1011, INTERNAL_ERROR)
    if requested:
        return requested[0], None
    return ("AUDIO" if "AUDIO" in allowed or not allowed else sorted(allowed)[0]), None


def _not_found(model: str, name: str, where: Route) -> str:
    if where.vertex:
        return (
            f"Publisher Model `{model}` was not found or is not supported for bidiGenerateContent"
        )
    return (
        f"models/{name} is not found for API version {where.api_version}, or is not "
        "supported for bidiGenerateContent. Call ListModels to see the list of available "
        "models and their supported methods."
    )


def _v1alpha_field(frame: Any) -> str | None:
    """The v1beta "Unknown name" reason for the first v1alpha-only field in a setup frame."""
    body = next(iter(frame.values()), None) if isinstance(frame, dict) else None
    for path, camel, snake in _V1ALPHA_ONLY:
        holder = body
        for part in path.split(".")[1:]:  # walk below "setup"
            if not isinstance(holder, dict):
                break
            holder = holder.get(part, holder.get(_snake(part)))
        if isinstance(holder, dict):
            for key in (camel, snake):
                if key in holder:
                    return (
                        f"Invalid JSON payload received. Unknown name \"{key}\" at '{path}': "
                        "Cannot find field."
                    )
    return None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()
