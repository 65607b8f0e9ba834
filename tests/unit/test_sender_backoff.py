"""The sender process backs off after a failed drain (issue 14 point 7): with the disk full it tried
every second and logged 10,844 lines in 64 s. 1 s, doubling to 5 min, reset by a drain that works."""

from __future__ import annotations

from itertools import pairwise

from coachd.runtime.sender_process import SenderLoop


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


class FakeEvent:
    """An Event whose wait does not sleep: it moves the fake clock on by the timeout."""

    def __init__(self, clock: FakeTime) -> None:
        self.clock = clock
        self.flag = False

    def is_set(self) -> bool:
        return self.flag

    def set(self) -> None:
        self.flag = True

    def clear(self) -> None:
        self.flag = False

    def wait(self, timeout: float | None = None) -> bool:
        self.clock.now += timeout or 0.0
        return self.flag


def run_for(seconds: float, outcomes, wake_every_attempt: bool = False) -> list[float]:
    """Run the loop on a fake clock for `seconds`; `outcomes(n)` says whether attempt n works.
    The store says a retry is due at once (what a full disk looks like: reads work, writes fail)."""
    clock = FakeTime()
    wake, stop = FakeEvent(clock), FakeEvent(clock)
    attempts: list[float] = []

    def drain_once() -> bool:
        attempts.append(clock.now)
        if clock.now >= seconds or len(attempts) > 100_000:  # bounded even if the loop spins
            stop.set()
        if wake_every_attempt:
            wake.set()  # the daemon queues mail all the time: wake-ups do not cut a backoff short
        return outcomes(len(attempts))

    # After a failure the store says a retry is due (SHORTEST_WAIT: 1 s); after a success, in a minute.
    SenderLoop(drain_once, lambda: 1.0 if not outcomes(len(attempts)) else 60.0, wake, stop, lambda: True,
               monotonic=clock.monotonic).run()
    return [t for t in attempts if t < seconds]


def test_a_drain_that_keeps_failing_is_tried_a_bounded_number_of_times_a_minute():
    attempts = run_for(60.0, lambda n: False)
    # 0, 1, 3, 7, 15, 31: doubling from 1 s, not once a second (60 times)
    assert len(attempts) <= 7, attempts
    gaps = [b - a for a, b in pairwise(attempts)]
    assert gaps == sorted(gaps) and gaps[0] >= 1.0


def test_wake_ups_do_not_cut_the_backoff_short():
    assert len(run_for(60.0, lambda n: False, wake_every_attempt=True)) <= 7


def test_the_backoff_is_capped_at_five_minutes_and_reset_by_a_drain_that_works():
    attempts = run_for(3600.0, lambda n: n == 15)  # the 15th attempt works, the rest fail
    gaps = [b - a for a, b in pairwise(attempts)]
    assert max(gaps) <= 300.0 + 1e-6
    assert 300.0 in [round(g, 6) for g in gaps], "it got to the cap"
    # After the success, the next failure waits the normal wait (60 s here), then 1 s again.
    assert gaps[15] == 1.0, gaps[13:17]
