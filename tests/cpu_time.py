"""CPU time of one call, for the tests that guard against hostile input.

Wall-clock time and process time both grow on a shared machine (other processes, this
process's server threads); the least of three runs of this thread's CPU time hardly does.
Where a test claims linear time, it compares two sizes side by side instead of holding the
call to a fixed number of seconds.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

RUNS = 3


def cpu_seconds(call: Callable[[], object]) -> float:
    """The least CPU time of this thread over RUNS calls, with the garbage collector
    paused: in a long test run its passes grow with the whole heap, not with the input."""
    costs = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(RUNS):
            started = time.thread_time()
            call()
            costs.append(time.thread_time() - started)
    finally:
        gc.enable()
    return min(costs)


def growth_ratio(call: Callable[[str], object], build: Callable[[int], str], count: int) -> float:
    """How much more CPU the call costs on build(5 * count) than on build(count): about 5 for
    linear time, about 25 for quadratic. A floor of 1 ms on the small run keeps timer
    granularity from making a tiny cost look steep; size `count` so that the small run
    costs well above it, or a steep cost can hide under the floor (a markup cut short
    early costs little at any size: there the bound itself is what the test holds)."""
    small, large = build(count), build(count * GROWTH)
    small_cost = max(cpu_seconds(lambda: call(small)), 0.001)
    return cpu_seconds(lambda: call(large)) / small_cost


GROWTH = 5
LINEAR_LIMIT = GROWTH * 2.4
