"""How many processes a run gets with ``--workers auto``: the cores this process may use, how
many of them other work keeps busy, and whether one more process pays for its start-up."""

from __future__ import annotations

import math
import os
import time

from deltacheck.core.words import plural


def cores() -> int:
    """The number of cores this process may run on (``--workers auto``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# What one more process costs and gains (``--workers auto``): it imports torch and jax and
# warms up (about 3 s of one core) before it checks anything, and a case costs about 10 ms.
STARTUP_S, CASE_S = 3.0, 0.010


def busy_elsewhere(sample_s: float = 0.15) -> float:
    """How many cores other processes keep busy now: the larger of the 1-minute load average
    and the CPU time the machine spent outside idle over ``sample_s`` (while this process
    sleeps); 0.0 where neither can be read."""
    try:
        one_minute = os.getloadavg()[0]
    except (AttributeError, OSError):
        one_minute = 0.0
    try:
        before = _cpu_times()
        time.sleep(sample_s)
        after = _cpu_times()
        total, idle = after[0] - before[0], after[1] - before[1]
        sampled = (os.cpu_count() or 1) * (1.0 - idle / total) if total > 0 else 0.0
    except (OSError, ValueError, IndexError):
        sampled = 0.0
    return max(one_minute, sampled)


def _cpu_times() -> tuple[int, int]:
    """The machine's CPU time so far, all and idle (iowait counted idle), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]


def auto_workers(examples: int, slices: int, *, busy: float | None = None,
                 mine: int | None = None) -> tuple[int, str]:
    """``--workers auto``: the number of processes for a run of ``examples`` cases in
    ``slices`` slices, and why.

    One process more is worth it only on a core nobody else uses (half a busy core counts as
    busy) and when the run is long enough for it to check more than its start-up costs; else
    one process, the fastest where a second would not pay.
    """
    mine = cores() if mine is None else mine
    # a worker starts after STARTUP_S, then shares the rest: worth it if the run lasts longer
    # than three times that on one process, one more each further 3 × STARTUP_S
    paying = 1 + int(examples * CASE_S // (3 * STARTUP_S))
    if busy is None and (paying == 1 or mine == 1 or slices == 1):
        # one process whatever the load: the load is not sampled (0.15 s)
        return 1, (f"{plural(examples, 'case')} ≈ {examples * CASE_S:.0f} s on one process: "
                   f"one more would not pay" if paying == 1 else f"{plural(mine, 'core')}, "
                   f"{plural(slices, 'slice')}: one process")
    busy = busy_elsewhere() if busy is None else busy
    free = max(1, min(mine, math.floor(mine - busy + 0.5)))
    workers = max(1, min(free, slices, paying))
    why = (f"{free} of {mine} cores free (load {busy:.1f}); {plural(examples, 'case')} "
           f"≈ {examples * CASE_S:.0f} s on one process")
    return workers, why
