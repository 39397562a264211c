"""Pacing: how a long background job splits its work and rests between batches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from authward import pacing
from authward.pacing import Pacing


class Timeline:
    """Stands in for the clock and asyncio.sleep: each step "works" for a set time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.rests: list[float] = []

    def perf_counter(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.rests.append(seconds)
        self.now += seconds


@pytest.fixture
def timeline(monkeypatch: pytest.MonkeyPatch) -> Timeline:
    timeline = Timeline()
    monkeypatch.setattr(pacing.time, "perf_counter", timeline.perf_counter)
    monkeypatch.setattr(pacing.asyncio, "sleep", timeline.sleep)
    return timeline


def steps_of(
    timeline: Timeline, sizes: list[int], work_s: float
) -> tuple[list[int], Callable[[int], Awaitable[int]]]:
    asked: list[int] = []
    remaining = list(sizes)

    async def step(limit: int) -> int:
        asked.append(limit)
        timeline.now += work_s
        return min(limit, remaining.pop(0))

    return asked, step


async def test_steps_until_a_short_one_and_returns_the_total(timeline: Timeline) -> None:
    asked, step = steps_of(timeline, [100, 100, 100, 37, 100], work_s=0.2)
    assert await Pacing(batch=100, duty=0.5).run(step) == 337
    assert asked == [100, 100, 100, 100]


async def test_rests_so_work_is_duty_of_the_time(timeline: Timeline) -> None:
    _, step = steps_of(timeline, [10, 10, 10, 0], work_s=0.3)
    await Pacing(batch=10, duty=0.25).run(step)
    # 0.3 s of work is a quarter of 1.2 s: a rest of 0.9 s after each full step, none after
    # the last (a short step means the job is done).
    assert timeline.rests == pytest.approx([0.9, 0.9, 0.9])
    assert timeline.now == pytest.approx(4 * 0.3 + 3 * 0.9)


async def test_a_full_duty_never_rests(timeline: Timeline) -> None:
    _, step = steps_of(timeline, [5, 5, 1], work_s=1.0)
    assert await Pacing(batch=5, duty=1.0).run(step) == 11
    assert timeline.rests == []


async def test_an_exact_multiple_ends_on_an_empty_step(timeline: Timeline) -> None:
    asked, step = steps_of(timeline, [5, 5, 0], work_s=0.1)
    assert await Pacing(batch=5, duty=0.5).run(step) == 10
    assert asked == [5, 5, 5]


@pytest.mark.parametrize(("batch", "duty"), [(0, 0.5), (10, 0.0), (10, 1.5), (10, -1.0)])
def test_refuses_nonsense(batch: int, duty: float) -> None:
    with pytest.raises(ValueError, match="pacing"):
        Pacing(batch=batch, duty=duty)
