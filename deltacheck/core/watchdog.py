"""A time limit on one call of the implementation under test, even when it hangs in C code.

One daemon thread watches every call. When a call outlives its limit the thread sends SIGUSR1
to the main thread itself (``pthread_kill``): a blocking system call there (a read on a pipe,
a wait on a lock, a sleep) returns early, and the handler raises ``CaseTimedOut`` in it. If
the main thread still has not come back to Python after ``GRACE`` seconds more (a loop in C
that retries every interrupted call), the ``rescue`` callbacks run on the watchdog's thread:
the command line writes the results of everything checked so far and ends the process.

Arming costs a few microseconds; calls from a thread other than the main one (where no
signal can be delivered) run without a limit.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

SIGNAL = signal.SIGUSR1
GRACE = 2.0  # seconds after the limit before the rescue


class CaseTimedOut(BaseException):
    """A call did not return within its limit (a BaseException: ``except Exception`` in the
    implementation must not swallow it)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"timed out after {seconds:g} s")
        self.seconds = seconds


class _Watch:
    """The armed call, shared by the main thread and the watchdog thread."""

    lock = threading.Condition()
    deadline: float | None = None
    seconds = 0.0
    generation = 0
    fired = -1  # the generation whose limit passed
    thread: threading.Thread | None = None
    rescue: ClassVar[list[Callable[[float], None]]] = []


def _handler(signum: int, frame: Any) -> None:
    if _Watch.fired == _Watch.generation and _Watch.deadline is not None:
        _Watch.deadline = None  # raised once per call
        raise CaseTimedOut(_Watch.seconds)


def _watch() -> None:
    main = threading.main_thread().ident
    with _Watch.lock:
        while True:
            if _Watch.deadline is None:
                _Watch.lock.wait()
                continue
            left = _Watch.deadline - time.monotonic()
            if left > 0:
                _Watch.lock.wait(left)
                continue
            generation = _Watch.generation
            _Watch.fired = generation
            if main is not None:
                signal.pthread_kill(main, SIGNAL)
            _Watch.lock.wait(GRACE)
            if _Watch.generation == generation and _Watch.fired == generation and (
                    _Watch.deadline is None or _Watch.deadline <= time.monotonic()):
                for rescue in list(_Watch.rescue):
                    rescue(_Watch.seconds)  # it ends the process
                _Watch.deadline = None


def on_stuck(rescue: Callable[[float], None]) -> Callable[[], None]:
    """Call ``rescue(seconds)`` (on the watchdog's thread) when a timed-out call cannot be
    stopped; returns the function that takes it back."""
    _Watch.rescue.append(rescue)
    return lambda: _Watch.rescue.remove(rescue) if rescue in _Watch.rescue else None


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise ``CaseTimedOut`` in the block if it runs longer than ``seconds`` (None: no limit)."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(SIGNAL) is not _handler:
        signal.signal(SIGNAL, _handler)
    with _Watch.lock:
        if _Watch.thread is None or not _Watch.thread.is_alive():
            _Watch.thread = threading.Thread(target=_watch, name="deltacheck-watchdog",
                                             daemon=True)
            _Watch.thread.start()
        _Watch.generation += 1
        _Watch.seconds = seconds
        _Watch.deadline = time.monotonic() + seconds
        _Watch.lock.notify()
    try:
        yield
    finally:
        with _Watch.lock:
            _Watch.deadline = None
            _Watch.generation += 1
