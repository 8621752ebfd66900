"""Tools: declarations from Python functions, and the dispatch task that runs them.

The dispatcher is one task in the session's nursery. The reader hands it ``toolCall`` and
``toolCallCancellation`` events, in arrival order, over an unbounded memory channel (the reader
must never wait). Each function call runs in its own cancel scope, concurrently, limited by a
:class:`trio.CapacityLimiter` (``max_concurrent_tools``, default 16; later calls wait their
turn and can be cancelled while waiting). Its result, or a structured error, goes back as a
``toolResponse`` with the call's ``id`` and ``name``:

* exception in the handler -> ``{"error": {"type": ..., "message": ...}}``, session goes on;
* arguments that do not fit the signature -> ``{"error": {"type": "InvalidArguments", ...}}``;
* a name that was never declared -> ``{"error": {"type": "UnknownFunction", ...}}``;
* running past the tool's ``timeout`` (default 60 s) -> ``{"error": {"type": "Timeout", ...}}``.

``toolCallCancellation`` cancels exactly the named calls; nothing is sent for them, even if
the handler finishes afterwards. Sync handlers run in a worker thread (abandoned on
cancellation, its late result discarded) so they never block the reader. Async-generator
handlers stream intermediate results with ``willContinue: true`` and end with an empty,
``SILENT`` response (NON_BLOCKING tools). A declaration without a handler is answered by the
application (manual mode): the :class:`ToolCall` event reaches ``session.events`` like every
tool call does, and ``tool_call.reply(...)`` / ``session.send_tool_response`` answers it.
"""

import enum
import functools
import inspect
import logging
import math
import time
import typing
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import cattrs
import trio

from . import _events as ev
from ._config import Behavior, FunctionDeclaration, Tool
from ._content import FunctionCall, FunctionResponse, FunctionResponseScheduling
from ._exceptions import ConfigError
from ._schema import function_schema
from ._wire import dumps

logger = logging.getLogger("gemini_live_trio.tools")

DEFAULT_TOOL_TIMEOUT = 60.0
DEFAULT_MAX_CONCURRENT_TOOLS = 16

#: Converts JSON arguments into attrs-class parameters (snake_case keys, as declared).
_args_converter = cattrs.Converter()

Scheduling = FunctionResponseScheduling | str


@attrs.frozen(kw_only=True)
class ToolResult:
    """Return (or yield) this from a handler to choose the response's ``scheduling``."""

    output: Any
    scheduling: Scheduling | None = None


@attrs.frozen(kw_only=True)
class LiveTool:
    """A declared function and, optionally, the Python callable that answers it."""

    declaration: FunctionDeclaration
    handler: Callable[..., Any] | None = None
    #: Seconds before a running handler is cancelled and an error is sent; ``None``: no limit.
    timeout: float | None = DEFAULT_TOOL_TIMEOUT
    #: Default ``scheduling`` of responses (NON_BLOCKING tools only).
    scheduling: Scheduling | None = None

    @property
    def name(self) -> str:
        return self.declaration.name

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the handler directly (handy in tests of your own tools)."""
        if self.handler is None:
            raise TypeError(f"tool {self.name!r} has no handler")
        result = self.handler(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result


def tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    behavior: Behavior | str | None = None,
    scheduling: Scheduling | None = None,
    timeout: float | None = DEFAULT_TOOL_TIMEOUT,
) -> Any:
    """Make a :class:`LiveTool` from a function; usable bare (``@tool``) or with options.

    The declaration comes from the signature, type hints and docstring; ``parameters`` (JSON
    Schema) and ``description`` override them. Async-generator functions default to
    ``behavior=NON_BLOCKING``.
    """

    def build(func: Callable[..., Any]) -> LiveTool:
        summary, schema = function_schema(func) if parameters is None else (None, parameters)
        kind = behavior
        if kind is None and inspect.isasyncgenfunction(func):
            kind = Behavior.NON_BLOCKING
        declaration = FunctionDeclaration(
            name=name or func.__name__,
            description=description or summary,
            parameters_json_schema=schema,
            behavior=kind,
        )
        return LiveTool(
            declaration=declaration, handler=func, timeout=timeout, scheduling=scheduling
        )

    return build(fn) if fn is not None else build


ToolLike = Tool | FunctionDeclaration | LiveTool | Callable[..., Any]


def collect_tools(items: Iterable[ToolLike] | None) -> tuple[list[Tool], dict[str, LiveTool]]:
    """Split what the user passed into ``setup.tools`` and the handlers by name."""
    declarations: list[FunctionDeclaration] = []
    others: list[Tool] = []
    handlers: dict[str, LiveTool] = {}
    for item in items or ():
        if isinstance(item, Tool):
            if item.function_declarations:
                declarations.extend(item.function_declarations)
                item = attrs.evolve(item, function_declarations=None)
            if any(getattr(item, a.name) is not None for a in attrs.fields(Tool)):
                others.append(item)
            continue
        if isinstance(item, FunctionDeclaration):
            declarations.append(item)
            continue
        live = item if isinstance(item, LiveTool) else tool(item) if callable(item) else None
        if live is None:
            raise ConfigError(f"not a tool: {item!r:.80}")
        declarations.append(live.declaration)
        if live.handler is not None:
            handlers[live.name] = live
    names = [d.name for d in declarations]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"tools declared twice: {', '.join(duplicates)}")
    setup_tools = ([Tool(function_declarations=declarations)] if declarations else []) + others
    return setup_tools, handlers


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


def _coerce_arguments(handler: Callable[..., Any], args: Mapping[str, Any]) -> dict[str, Any]:
    """Bind JSON arguments to the handler's signature; structure attrs and Enum parameters."""
    signature = inspect.signature(handler)
    signature.bind(**args)  # TypeError names the missing or unexpected argument
    try:
        hints = typing.get_type_hints(handler)
    except (NameError, TypeError):
        hints = {}
    bound: dict[str, Any] = {}
    for key, value in args.items():
        hint = hints.get(key)
        if value is not None and isinstance(hint, type):
            if attrs.has(hint):
                value = _args_converter.structure(value, hint)
            elif issubclass(hint, enum.Enum):
                value = hint(value)
        bound[key] = value
    return bound


class ToolDispatcher:
    """Runs registered handlers for ``toolCall`` events; see the module docstring."""

    def __init__(
        self,
        handlers: Mapping[str, LiveTool],
        *,
        declared: Iterable[str],
        send: Callable[[ev.ToolResponse], Awaitable[None]],
        report: Callable[[ev.ServerEvent], None],
        max_concurrent: int = DEFAULT_MAX_CONCURRENT_TOOLS,
    ) -> None:
        self._handlers = dict(handlers)
        self._declared = set(declared)
        self._send = send
        self._report = report
        self._limiter = trio.CapacityLimiter(max_concurrent)
        self._inbox, self._requests = trio.open_memory_channel[
            ev.ToolCall | ev.ToolCallCancellation
        ](math.inf)
        self._running: dict[str, trio.CancelScope] = {}
        #: call key -> why it was cancelled
        self._cancelled: dict[str, str] = {}
        self._anonymous = 0

    @property
    def running(self) -> frozenset[str]:
        """Ids of the calls whose handlers are running or waiting for a slot."""
        return frozenset(self._running)

    def handles(self, call: FunctionCall) -> bool:
        """Whether this dispatcher answers ``call`` (else the application does)."""
        return call.name in self._handlers or call.name not in self._declared

    def cancel_running(self, reason: str) -> None:
        """Cancel every running call (their connection is gone); no response is sent."""
        for key, scope in self._running.items():
            self._cancelled[key] = reason
            scope.cancel()

    def submit(self, event: ev.ToolCall | ev.ToolCallCancellation) -> None:
        """Queue a tool call or cancellation; never blocks."""
        self._inbox.send_nowait(event)

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            async for request in self._requests:
                if isinstance(request, ev.ToolCallCancellation):
                    for call_id in request.ids:
                        scope = self._running.get(call_id)
                        if scope is not None:
                            self._cancelled[call_id] = "toolCallCancellation"
                            scope.cancel()
                    continue
                for call in request.function_calls:
                    if self.handles(call):
                        key = call.id or f"anonymous-{self._anonymous}"
                        self._anonymous += 1
                        scope = trio.CancelScope()
                        self._running[key] = scope
                        nursery.start_soon(self._run_call, call, key, scope)

    async def _run_call(self, call: FunctionCall, key: str, scope: trio.CancelScope) -> None:
        started = time.perf_counter()
        outcome, detail = "ok", ""
        response: dict[str, Any] | None = None
        scheduling: Scheduling | None = None
        live = self._handlers.get(call.name)
        try:
            with scope:
                if live is None or live.handler is None:
                    outcome, detail = "unknown", f"no function named {call.name!r} was declared"
                    response = _error("UnknownFunction", detail)
                else:
                    scheduling = live.scheduling
                    async with self._limiter:
                        with trio.move_on_after(live.timeout or math.inf) as deadline:
                            response, scheduling = await self._invoke(live, call, key, scheduling)
                        if deadline.cancelled_caught:
                            outcome = "timeout"
                            detail = f"{call.name} did not finish within {live.timeout:g} s"
                            response = _error("Timeout", detail)
        except _BadArguments as exc:
            outcome, detail = "invalid_arguments", _describe(exc)
            response = _error("InvalidArguments", detail)
        except Exception as exc:
            outcome, detail = "error", _describe(exc)
            response = _error(type(exc).__name__, detail)
            logger.warning("tool %s failed: %s", call.name, detail)
        finally:
            self._running.pop(key, None)
        if key in self._cancelled or scope.cancelled_caught:
            outcome, response = "cancelled", None
            detail = self._cancelled.pop(key, "cancelled")
        if response is not None:
            try:
                dumps(response)
            except (TypeError, ValueError) as exc:  # the model would wait forever otherwise
                outcome, detail = "error", f"{call.name} returned something not JSON: {exc}"
                response = _error("InvalidResult", detail)
            await self._post(call, response, scheduling, will_continue=None)
        self._report(
            ev.ToolCallFinished(
                id=call.id,
                name=call.name,
                outcome=outcome,
                detail=detail or None,
                duration=time.perf_counter() - started,
            )
        )

    async def _invoke(
        self, live: LiveTool, call: FunctionCall, key: str, scheduling: Scheduling | None
    ) -> tuple[dict[str, Any] | None, Scheduling | None]:
        handler = live.handler
        assert handler is not None
        try:
            kwargs = _coerce_arguments(handler, call.args or {})
        except (TypeError, ValueError, cattrs.BaseValidationError) as exc:
            raise _BadArguments(f"bad arguments for {call.name}: {exc}") from None
        if inspect.isasyncgenfunction(handler):
            stream: AsyncIterator[Any] = handler(**kwargs)
            async with _aclosing(stream):
                async for item in stream:
                    output, item_scheduling = _unwrap(item, scheduling)
                    if key in self._cancelled:
                        return None, scheduling
                    await self._post(call, {"output": output}, item_scheduling, will_continue=True)
            await self._post(call, {}, FunctionResponseScheduling.SILENT, will_continue=False)
            return None, scheduling
        if inspect.iscoroutinefunction(handler):
            result = await handler(**kwargs)
        else:
            result = await trio.to_thread.run_sync(
                functools.partial(handler, **kwargs), abandon_on_cancel=True
            )
        output, scheduling = _unwrap(result, scheduling)
        return {"output": output}, scheduling

    async def _post(
        self,
        call: FunctionCall,
        response: dict[str, Any],
        scheduling: Scheduling | None,
        *,
        will_continue: bool | None,
    ) -> None:
        reply = FunctionResponse(
            id=call.id,
            name=call.name,
            response=response,
            scheduling=scheduling,
            will_continue=will_continue,
        )
        try:
            await self._send(ev.ToolResponse(function_responses=[reply]))
        except Exception as exc:  # the session is ending: nobody to answer
            logger.info("tool response for %s not sent: %s", call.name, exc)


class _BadArguments(Exception):
    pass


def _describe(exc: BaseException) -> str:
    """``str(exc)``, even for exceptions whose ``__str__`` itself fails."""
    try:
        return str(exc)
    except Exception:
        return f"<{type(exc).__name__}, unprintable>"


def _unwrap(value: Any, scheduling: Scheduling | None) -> tuple[Any, Scheduling | None]:
    """(JSON-ready output, scheduling): attrs classes, enums and the like become plain data."""
    if isinstance(value, ToolResult):
        return _args_converter.unstructure(value.output), value.scheduling or scheduling
    return _args_converter.unstructure(value), scheduling


class _aclosing:
    """``contextlib.aclosing`` typed for any async iterator."""

    def __init__(self, stream: AsyncIterator[Any]) -> None:
        self._stream = stream

    async def __aenter__(self) -> AsyncIterator[Any]:
        return self._stream

    async def __aexit__(self, *exc: object) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


def declared_names(tools: Sequence[Tool]) -> set[str]:
    return {d.name for t in tools for d in t.function_declarations or ()}
