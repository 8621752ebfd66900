"""The replay buffer and the backoff policy, without sockets or clocks."""

import random

import pytest

from gemini_live_trio import (
    Blob,
    ClientContent,
    ConnectionLost,
    Content,
    FunctionResponse,
    InvalidArgument,
    PolicyViolation,
    QuotaExceeded,
    RealtimeInput,
    ReconnectPolicy,
    ToolResponse,
    backoff,
)
from gemini_live_trio._replay import MAX_REMEMBERED, ReplayBuffer


def audio(n: int, size: int = 3200) -> RealtimeInput:
    return RealtimeInput(audio=Blob(mime_type="audio/pcm;rate=16000", data=bytes([n]) * size))


def turn(text: str) -> ClientContent:
    return ClientContent(turns=[Content.user(text)], turn_complete=True)


def test_exact_mode_replays_everything_after_the_consumed_index_in_order() -> None:
    buffer = ReplayBuffer()
    messages = [turn("a"), audio(1), audio(2), turn("b"), audio(3)]
    for index, message in enumerate(messages, start=1):
        buffer.record(1, index, message)
    buffer.covered(1, last_consumed=2)
    plan = buffer.plan()
    assert plan.exact
    assert plan.messages == (audio(2), turn("b"), audio(3))
    assert plan.lost == 0
    assert len(buffer) == 0


def test_exact_mode_forgets_older_connections() -> None:
    buffer = ReplayBuffer()
    buffer.record(1, 1, turn("old"))
    buffer.record(2, 1, turn("new"))
    buffer.record(2, 2, turn("newer"))
    buffer.covered(2, last_consumed=1)
    assert buffer.plan().messages == (turn("newer"),)


def test_best_effort_keeps_the_audio_tail_and_unanswered_turns_only() -> None:
    buffer = ReplayBuffer(replay_audio_seconds=0.25)  # 8,000 bytes: two 3,200-byte chunks
    buffer.record(1, 1, turn("before the handle"))
    buffer.covered(1, last_consumed=None)  # everything so far is in the handle
    buffer.record(1, 2, turn("being answered"))
    buffer.model_output()
    buffer.record(1, 3, ToolResponse(function_responses=[FunctionResponse(id="x", name="f")]))
    for n in range(4):
        buffer.record(1, 4 + n, audio(n))
    buffer.record(1, 8, turn("not answered yet"))
    plan = buffer.plan()
    assert not plan.exact
    assert plan.messages == (audio(2), audio(3), turn("not answered yet"))
    # the answered turn, the tool response and two old audio chunks are given up
    assert plan.lost == 4


def test_memory_is_bounded() -> None:
    buffer = ReplayBuffer()
    for index in range(MAX_REMEMBERED + 10):
        buffer.record(1, index + 1, RealtimeInput(activity_start=None, text=None))
    assert len(buffer) == MAX_REMEMBERED
    assert buffer.plan().lost >= 10


def test_backoff_is_jittered_exponential_and_capped() -> None:
    rng = random.Random(7)
    delays = backoff(initial=1, factor=2, maximum=8, jitter=0.5, rng=rng)
    values = [next(delays) for _ in range(7)]
    assert values[0] == 0
    bases = [1, 2, 4, 8, 8, 8]
    for value, base in zip(values[1:], bases, strict=True):
        assert base * 0.5 <= value <= base


def test_policy_backs_off_longer_after_quota_and_knows_what_not_to_retry() -> None:
    policy = ReconnectPolicy(quota_delay=5, jitter=0)
    quota = QuotaExceeded(1011, "Resource exhausted")
    assert next(policy.delays(quota)) == 5  # no immediate retry when asked to slow down
    assert next(policy.delays(ConnectionLost(1006, None))) == 0
    assert policy.should_retry(quota)
    assert policy.should_retry(ConnectionLost(1000, None))
    assert not policy.should_retry(InvalidArgument(1007, "bad"))
    assert not policy.should_retry(PolicyViolation(1008, "no model"))
    assert not policy.should_retry(ValueError("not ours"))
    assert not ReconnectPolicy.off().should_retry(ConnectionLost(1006, None))


@pytest.mark.parametrize("jitter", [0.0, 0.3, 1.0])
def test_backoff_never_negative(jitter: float) -> None:
    delays = backoff(initial=0.1, jitter=jitter, rng=random.Random(1))
    assert all(next(delays) >= 0 for _ in range(50))
