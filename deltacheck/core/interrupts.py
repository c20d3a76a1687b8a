"""Ctrl-C that is never lost: recorded by a handler, delivered where the run can act on it.

Python's default handler raises KeyboardInterrupt wherever the main thread happens to be. Once
JAX is loaded that is often inside native code: in JAX's garbage-collection callback the
exception is printed as "Exception ignored" and the run goes on to exit 0; inside a nanobind
call back into Python it ends the process with ``terminate called ...`` (exit 134). So the
command line installs ``handler`` first thing. It records every Ctrl-C; it raises at once only
while no framework with native callbacks is loaded (or within ``interruptible()``, the call of
the implementation), no module is being imported and nothing asked to defer; otherwise the
interrupt waits for the next ``checkpoint()`` (between cases, between the steps of start-up),
which raises it there. An
interrupt counts as waiting until whoever stops the run ``acknowledge``s it, so one raised into
a callback that swallowed it is raised again at the next checkpoint. A second Ctrl-C ends the
process at once (exit 130).

Without ``install`` (deltacheck used from Python, or under pytest) nothing changes: checkpoints
are free and Ctrl-C behaves as Python's default.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

# Modules whose native code calls back into Python (a gc callback, nanobind): once one is
# loaded, an exception raised from the handler can be swallowed or abort the process.
_NATIVE_CALLBACKS = ("jaxlib", "jax")
EXIT_CODE = 130


class _State:
    """The process's one SIGINT record (signals are process-wide; so is this)."""

    installed = False
    requested = 0  # how many Ctrl-C arrived
    handled = False  # the run has stopped for it: checkpoints raise no more
    defer = 0  # depth of ``deferred()`` blocks
    interruptible = 0  # depth of ``interruptible()`` blocks
    hard_exit: ClassVar[list[Callable[[], None]]] = []


def _say(text: str) -> None:
    with contextlib.suppress(OSError):  # never through sys.stderr: it may be mid-write
        os.write(2, (text + "\n").encode())


def _handler(signum: int, frame: Any) -> None:
    _State.requested += 1
    if _State.requested > 1:  # the second Ctrl-C: the user does not want to wait
        stop_helpers()
        _say("deltacheck: interrupted twice: stopped at once, nothing more written")
        os._exit(EXIT_CODE)
    if _State.defer or _State.handled or _importing(frame) or (
            not _State.interruptible and any(name in sys.modules for name in _NATIVE_CALLBACKS)):
        return  # the next checkpoint raises it
    raise KeyboardInterrupt


def _importing(frame: Any) -> bool:
    """Whether the main thread is importing a module.

    An import cut short can run through C code that executes Python (``PyRun_String``); an
    exception leaving it there makes the interpreter kill itself with SIGINT at exit, whatever
    the exit code asked for (-2, not 130).
    """
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def install() -> None:
    """Route SIGINT through the recording handler (from the main thread; else a no-op)."""
    try:
        signal.signal(signal.SIGINT, _handler)
    except ValueError:  # not the main thread: leave Python's default
        return
    _State.installed = True


def requested() -> bool:
    """Whether Ctrl-C has been pressed since ``install``."""
    return _State.requested > 0


def checkpoint() -> None:
    """Raise KeyboardInterrupt here if a Ctrl-C is waiting and the run has not stopped for it."""
    if _State.requested and not _State.handled:
        raise KeyboardInterrupt


def acknowledge() -> None:
    """The run has stopped for the Ctrl-C: checkpoints raise no more."""
    _State.handled = True


def waiting() -> bool:
    """Whether a Ctrl-C arrived that nothing has stopped for yet."""
    return bool(_State.requested) and not _State.handled


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block (the implementation's own code) Ctrl-C raises at once."""
    _State.interruptible += 1
    try:
        yield
    finally:
        _State.interruptible -= 1


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Within the block a Ctrl-C only waits (for a checkpoint after it, or the exit code)."""
    _State.defer += 1
    try:
        yield
    finally:
        _State.defer -= 1


def at_hard_exit(stop: Callable[[], None]) -> None:
    """Call ``stop`` (quickly: it runs in a signal handler) before a second Ctrl-C ends it all."""
    if stop not in _State.hard_exit:
        _State.hard_exit.append(stop)


def stop_helpers() -> None:
    """Run the ``at_hard_exit`` callbacks: the process is about to end without cleaning up."""
    for stop in _State.hard_exit:
        with contextlib.suppress(Exception):
            stop()


def reset() -> None:
    """Forget recorded interrupts (tests; a worker process starting afresh)."""
    _State.requested, _State.handled, _State.defer, _State.interruptible = 0, False, 0, 0
