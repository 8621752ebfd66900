"""Ephemeral tokens: your backend mints a short-lived token; a client talks with it, never the key.

    python -m examples.ephemeral_token

The **backend** holds the real API key and calls ``create_ephemeral_token()``: one use, new
sessions only within the next minute, and the model, voice settings and system instruction
locked, so the client cannot change them. The **client** (a browser or an app, in real life)
receives only the token name and connects with ``auth=EphemeralToken(...)`` to the
Constrained method on v1alpha. A second session with the same token is refused: it was for
one use only (resuming the first session would not have counted).

Without GEMINI_API_KEY both sides run against the bundled emulator (its REST side mints the
token, its WebSocket side enforces it), offline on 127.0.0.1.
"""

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import trio

from gemini_live_trio import (
    AudioTranscriptionConfig,
    EphemeralToken,
    LiveConfig,
    LiveConstraints,
    PolicyViolation,
    create_ephemeral_token,
    open_live_session,
)
from gemini_live_trio.testing import serve_emulator, serve_emulator_rest

from ._common import MODEL, announce, gemini_key, print_reply

LOCKED = LiveConfig(
    response_modalities=["AUDIO"],
    output_audio_transcription=AudioTranscriptionConfig(),
    system_instruction="You are the help desk of a bicycle shop. Keep answers short.",
)


@asynccontextmanager
async def services() -> AsyncIterator[dict[str, str | None]]:
    """The real API's URLs (``None``: the defaults) with a key, else the emulator's."""
    key = gemini_key()
    announce(key is not None)
    if key:
        yield {"api_key": key, "rest_url": None, "live_url": None}
        return
    async with trio.open_nursery() as nursery:
        emulator = await nursery.start(serve_emulator)
        rest = await nursery.start(functools.partial(serve_emulator_rest, emulator))
        yield {
            "api_key": emulator.api_key,
            "rest_url": rest.base_url,
            "live_url": emulator.base_url,
        }
        nursery.cancel_scope.cancel()


async def backend_mints_a_token(api_key: str, rest_url: str | None) -> str:
    """Your server: mint a one-use token for one client and hand over its name."""
    token = await create_ephemeral_token(
        api_key=api_key,
        uses=1,
        expire_time=timedelta(minutes=30),  # sessions end at the latest then
        new_session_expire_time=timedelta(minutes=1),  # the client must connect by then
        constraints=LiveConstraints(model=MODEL, config=LOCKED),  # all of it locked
        base_url=rest_url,
    )
    until = (
        f"{token.new_session_expire_time:%H:%M:%S} UTC" if token.new_session_expire_time else "?"
    )
    print(
        f"backend> minted a token ({token.name!r}, uses={token.uses}), new sessions until {until}"
    )
    return token.name.reveal()  # what the client receives (over your own HTTPS API)


async def client_talks(token_name: str, live_url: str | None) -> None:
    """The client: it knows the token, not the key, and cannot unlock the setup."""
    auth = EphemeralToken(token=token_name)
    # the client asks for another instruction: the token's locked one wins
    mine = LiveConfig(response_modalities=["AUDIO"], system_instruction="Talk like a pirate.")
    async with open_live_session(
        MODEL, auth=auth, config=mine, api_version="v1alpha", base_url=live_url
    ) as session:
        print(f"client> connected with {auth!r}, session {session.session_id}")
        await session.send_text("Do you repair tubeless tyres?")
        await print_reply(session)
    try:
        async with open_live_session(MODEL, auth=auth, api_version="v1alpha", base_url=live_url):
            print("client> unexpectedly opened a second session")
    except PolicyViolation as exc:
        print(f"client> second session refused, as it should be: {exc.reason}")


async def main() -> None:
    async with services() as urls:
        assert urls["api_key"] is not None
        name = await backend_mints_a_token(urls["api_key"], urls["rest_url"])
        await client_talks(name, urls["live_url"])


if __name__ == "__main__":
    trio.run(main)
