"""The poll loop: stops at the first wanted value, gives up at the deadline with the last value seen."""

from __future__ import annotations

import asyncio

import pytest

from shopcommon.polling import poll


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        return self.calls


async def test_the_first_wanted_value_ends_the_wait_at_once() -> None:
    probe = Counter()
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await poll(probe, until=lambda n: n >= 1, timeout=5.0) == 1
    assert probe.calls == 1
    assert loop.time() - started < 0.5


async def test_it_looks_again_until_the_value_arrives() -> None:
    probe = Counter()
    assert await poll(probe, until=lambda n: n == 4, timeout=5.0, pause=0.001) == 4
    assert probe.calls == 4


async def test_at_the_deadline_it_answers_the_last_value_after_a_last_look() -> None:
    probe = Counter()
    loop = asyncio.get_running_loop()
    started = loop.time()
    last = await poll(probe, until=lambda _: False, timeout=0.2, pause=0.01, max_pause=0.05)
    waited = loop.time() - started
    assert last == probe.calls
    assert probe.calls >= 3
    assert 0.2 <= waited < 1.0


async def test_pauses_grow_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    await poll(Counter(), until=lambda n: n == 6, timeout=60.0, pause=0.01, max_pause=0.04)
    assert slept == [0.01, 0.02, 0.04, 0.04, 0.04]


async def test_a_zero_timeout_looks_once() -> None:
    probe = Counter()
    assert await poll(probe, until=lambda _: False, timeout=0) == 1
    assert probe.calls == 1


async def test_an_error_from_the_probe_ends_the_wait() -> None:
    async def broken() -> int:
        raise LookupError("gone")

    with pytest.raises(LookupError):
        await poll(broken, until=lambda _: True, timeout=1.0)


@pytest.mark.parametrize(("pause", "max_pause", "backoff"), [(0, 1, 2), (0.5, 0.1, 2), (0.1, 1, 0.5)])
async def test_nonsense_pauses_are_refused(pause: float, max_pause: float, backoff: float) -> None:
    with pytest.raises(ValueError):
        await poll(Counter(), until=lambda _: True, timeout=1.0, pause=pause, max_pause=max_pause, backoff=backoff)
