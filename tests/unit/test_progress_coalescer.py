"""The supervisor's progress coalescing: a worker's flood becomes about one event a second."""

from __future__ import annotations

import itertools
import time

import pytest

from adapters.freqtrade.progress import ProgressCoalescer


@pytest.fixture
def sent() -> list[tuple[str, float]]:
    return []


def test_a_flood_becomes_one_event_a_second_changes_only(
    sent: list[tuple[str, float]], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    coalescer = ProgressCoalescer(lambda phase, f: sent.append((phase, f)))
    for i in range(200):  # 10 s of a message every 50 ms, fractions going round
        coalescer.offer("backtest", (i % 7) / 10)
        now[0] += 0.05
        coalescer.flush()
    assert 1 <= len(sent) <= 11
    assert all(a != b for a, b in itertools.pairwise(sent))


def test_the_same_value_again_is_not_sent_and_later_phases_go_at_once(
    sent: list[tuple[str, float]],
) -> None:
    coalescer = ProgressCoalescer(lambda phase, f: sent.append((phase, f)), interval=60)
    coalescer.offer("dataload", 0.1)
    coalescer.offer("dataload", 0.1)
    coalescer.offer("analyze", 0.3)
    coalescer.offer("dataload", 0.2)  # back to an earlier phase: waits for the interval
    coalescer.offer("backtest", 2.0)  # clamped
    coalescer.flush(force=True)
    assert sent == [("dataload", 0.1), ("analyze", 0.3), ("backtest", 1.0)]
