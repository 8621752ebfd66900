"""``python -m gemini_live_trio.testing``: run the Live API emulator until Ctrl-C."""

import argparse
import signal
from functools import partial

import trio

from ._server import serve_emulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gemini_live_trio.testing",
        description="Serve a local emulator of the Gemini Live API (plain ws://) until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: any free one)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--api-key", default="test-key", help="API key to accept (default: %(default)s)"
    )
    parser.add_argument(
        "--vertex", action="store_true", help="Vertex AI mode (usage spelled candidatesTokenCount)"
    )
    parser.add_argument(
        "--strict-handles",
        action="store_true",
        help="close 1008 for an unknown or expired resumption handle (default: start afresh)",
    )
    parser.add_argument(
        "--consumed-index",
        action="store_true",
        help="send lastConsumedClientMessageIndex with every resumable handle update",
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            serve = partial(
                serve_emulator,
                host=args.host,
                port=args.port,
                api_keys=(args.api_key,),
                vertex=args.vertex,
                strict_handles=args.strict_handles,
                send_consumed_index=args.consumed_index,
            )
            emulator = await nursery.start(serve)
            print(
                f"Gemini Live emulator at {emulator.base_url} (API key: {emulator.api_key})",
                flush=True,
            )
            async for _ in signals:  # Ctrl-C or SIGTERM: stop serving, exit 0
                nursery.cancel_scope.cancel()
                break


def main(argv: list[str] | None = None) -> None:
    trio.run(_serve, _parser().parse_args(argv))


if __name__ == "__main__":
    main()
