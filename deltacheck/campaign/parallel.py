"""``--workers N``: a campaign's slices checked in N processes, the results as from one.

The calling process is one of the N: it takes slices like the others, so the first results
come while the other processes are still starting. Each process takes the next unchecked
slice from a shared counter (the cheap ones do not wait for the dear ones) and sends back its
whole outcome; ``campaign.assemble`` then orders them by slice, so the document is the same
as from one process. The other processes fork from a server that imported torch and jax once
(``forkserver``; ``spawn`` where there is none), load the implementation and the user's
activations from their specs, and share JAX's persistent compilation cache. A slice whose
process dies is checked again here: no result is lost.

The command line starts them first thing (``prestart``): while this process imports the
frameworks and plans the campaign, they import theirs and warm their oracles up (JAX traces
its function, torch makes its first graph) on a small fixed case, then wait for the work.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

_PRELOAD = ["numpy", "scipy.special", "hypothesis", "torch", "jax", "jax.numpy",
            "array_api_compat", "deltacheck.campaign.slices", "deltacheck.oracles.fd",
            "deltacheck.oracles.torch_oracle", "deltacheck.oracles.jax_oracle"]


def _context() -> Any:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


@dataclass
class Prestarted:
    """Worker processes started ahead of the campaign, with the queues they wait on."""

    ctx: Any
    jobs: Any
    results: Any
    counter: Any
    procs: list[Any]
    starter: threading.Thread


def prestart(workers: int, oracles: Sequence[str]) -> Prestarted | None:
    """Start the other ``workers - 1`` processes now; they warm up and wait for the work.

    Their imports and first oracle calls then overlap this process's own start-up. Hand what
    this returns to ``run_slices``, or to ``release`` if no campaign takes it.
    """
    if workers < 2:
        return None
    ctx = _context()
    jobs, results, counter = ctx.Queue(), ctx.Queue(), ctx.Value("i", 0)
    procs = [ctx.Process(target=_worker, args=(jobs, counter, results, list(oracles)),
                         daemon=True) for _ in range(workers - 1)]
    # Starting waits for the fork server's own imports: done in a thread, this process goes
    # on with its start-up meanwhile.
    starter = threading.Thread(target=_start, args=(procs,), daemon=True)
    starter.start()
    return Prestarted(ctx=ctx, jobs=jobs, results=results, counter=counter, procs=procs,
                      starter=starter)


def _start(procs: Sequence[Any]) -> list[Any]:
    """The processes of ``procs`` that are running, started here if need be.

    One that cannot start (the system allows no more processes, say) is left out with a line
    on stderr: the others, this one included, check its share.
    """
    running = []
    for p in procs:
        if p.pid is None:
            try:
                p.start()
            except Exception as exc:  # any failure to start leaves the process out
                print(f"deltacheck: --workers: a worker process could not start "
                      f"({type(exc).__name__}: {exc}); the others check its share",
                      file=sys.stderr)
                continue
        running.append(p)
    return running


def _warm_up(oracles: Sequence[str]) -> None:
    """One small fixed case through every oracle: JAX traces its function, torch starts up."""
    import numpy as np

    from deltacheck import reference_impl
    from deltacheck.core.case import Case
    from deltacheck.judging.check import check_case

    rng = np.random.default_rng(0)
    case = Case(widths=(2, 3, 2), activations=("tanh",), loss="ce", dtype="float64",
                weights=(rng.normal(size=(3, 2)), rng.normal(size=(2, 3))),
                biases=(rng.normal(size=3), rng.normal(size=2)), x=rng.normal(size=(2, 2)),
                t=np.array([[1.0, 0.0], [0.0, 1.0]]))
    with contextlib.suppress(Exception):  # a missing framework is reported by the run itself
        check_case(case, reference_impl.backprop, oracles)


def _take(counter: Any, total: int) -> int | None:
    with counter.get_lock():
        i = counter.value
        counter.value += 1
    return i if i < total else None


def _worker(jobs: Any, counter: Any, results: Any, oracles: Sequence[str]) -> None:
    """A worker process: warm up, take the job, load what it names, check slices until none is
    left. A job of None means there is no work (the run stopped before it began)."""
    from deltacheck.campaign.slices import Campaign, heap_frozen, settle_imports
    from deltacheck.core import activations as registry
    from deltacheck.core import interrupts, watchdog
    from deltacheck.core.loading import load_activation, load_implementation
    from deltacheck.core.watchdog import CaseTimedOut

    interrupts.reset()
    interrupts.install()  # Ctrl-C (or the caller's SIGINT) stops at the next case, never lost
    i = None
    try:
        settle_imports()  # as the caller did: the same seed draws the same cases
        _warm_up(oracles)
        job = jobs.get()
        if job is None:
            return
        config, seed, slices, acts = job
        with contextlib.ExitStack() as stack:
            stack.enter_context(registry.registered(
                [load_activation(spec) for spec in config.user_activations]))
            config = replace(config, impl=load_implementation(config.impl_spec), seed=seed)
            runner = Campaign(config, lambda *args: None)
            stack.callback(watchdog.on_stuck(
                lambda seconds: _rescued(results, runner, slices, seconds)))
            stack.enter_context(heap_frozen())
            while (i := _take(counter, len(slices))) is not None:
                results.put(("done", i, runner.run_slice(slices[i], acts)))
    except KeyboardInterrupt:  # Ctrl-C reaches every process: send what this one checked
        if i is not None:
            results.put(("interrupted", i, runner.so_far(slices[i])))
    except CaseTimedOut as stop:  # a case hung: the run ends with it
        results.put(("timed_out", i, (runner.so_far(slices[i]), stop.seconds)))
    except BaseException as exc:
        results.put(("error", -1, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    results.put(("exit", -1, os.getpid()))


def _rescued(results: Any, runner: Any, slices: Sequence[Any], seconds: float) -> None:
    """A worker's call hangs where it cannot be stopped: send what it checked, and end."""
    runner.hung(seconds)
    if runner.current is not None:
        i = list(slices).index(runner.current)
        results.put(("timed_out", i, (runner.so_far(runner.current), seconds)))
    results.put(("exit", -1, os.getpid()))
    results.close()
    results.join_thread()  # sent before the process ends
    os._exit(1)


def run_slices(config: Any, seed: int, slices: Sequence[Any], acts: list[str],
               progress: Callable[[str, int, int, int], None], *, here: Any = None,
               started: Prestarted | None = None) -> list[Any]:
    """Check ``slices`` in ``config.workers`` processes (this one included); their outcomes.

    ``here``: the caller's campaign, which checks this process's share (and which a rescue
    from a hung call reads); a new one by default. ``started``: processes ``prestart``
    started for this run, used if they are as many as wanted (else ended, and new ones
    started)."""
    from deltacheck.campaign.planning import Interrupted
    from deltacheck.campaign.slices import Campaign
    from deltacheck.core import interrupts
    from deltacheck.core.watchdog import CaseTimedOut

    if started is not None:
        started.starter.join()
    wanted = min(config.workers, len(slices)) - 1  # no more processes than slices
    if started is not None and started.procs and len(started.procs) == wanted:
        ctx, jobs, results, counter = started.ctx, started.jobs, started.results, started.counter
        procs = [p for p in started.procs if p.pid is not None]  # the ones that started
    else:  # not started early (from Python, or for another number of workers)
        release(started)
        ctx = _context()
        jobs, results, counter = ctx.Queue(), ctx.Queue(), ctx.Value("i", 0)
        procs = [ctx.Process(target=_worker, args=(jobs, counter, results, config.oracles),
                             daemon=True) for _ in range(wanted)]
    procs = _start(procs)
    # The implementation is loaded again in each process from its spec: a callable itself
    # need not survive pickling (a lambda, a closure in a test).
    shipped = replace(config, impl=None, replay=None)
    for _ in procs:
        jobs.put((shipped, seed, list(slices), acts))
    outcomes: dict[int, Any] = {}
    totals = {loss: sum(s.budget for s in slices if s.loss == loss) for loss in config.losses}
    here = here if here is not None else Campaign(replace(config, seed=seed),
                                                  lambda *args: None)
    assert here.seed == seed, "the caller's campaign draws from the seed it shares out"

    def report(extra: Any = None, n: int = 0, failed: int = 0) -> None:
        here.settled([outcomes[k] for k in sorted(outcomes)])
        done = {loss: sum(slices[i].budget for i in outcomes if slices[i].loss == loss)
                for loss in totals}
        bad = sum(o.failed_count for o in outcomes.values()) + failed
        loss = extra.loss if extra is not None else slices[max(outcomes)].loss
        progress(loss, done[loss] + n, totals[loss], bad)

    def progress_of(piece: Any) -> Callable[[str, int, int, int], None]:
        return lambda loss, n, total, failed: report(piece, n, failed)

    def drain(block: bool) -> None:
        while True:
            try:
                kind, i, payload = results.get(timeout=0.5) if block else results.get_nowait()
            except queue.Empty:
                return
            if kind == "done":
                outcomes[i] = payload
                report()
            elif kind == "interrupted":
                outcomes[i] = payload
                raise KeyboardInterrupt
            elif kind == "timed_out":
                outcomes[i], seconds = payload
                raise CaseTimedOut(seconds)
            elif kind == "error":  # its slices are checked by the others, this one included
                print(f"deltacheck: --workers: a worker process failed and left its share to "
                      f"the others: {payload.splitlines()[0]}", file=sys.stderr)
            elif kind == "exit":
                exited.add(payload)
            block = False

    exited: set[int] = set()
    i: int | None = None
    interrupts.at_hard_exit(lambda: _kill(procs))
    stopped: float | None = None  # the limit a case outlived
    try:
        while (i := _take(counter, len(slices))) is not None:
            outcomes[i] = here.run_slice(slices[i], acts, progress=progress_of(slices[i]))
            drain(block=False)
        while len(exited) < len(procs):
            interrupts.checkpoint()
            drain(block=True)
            if all(not p.is_alive() for p in procs):
                drain(block=False)
                break
        # A slice taken by a process that died before it sent its outcome is checked here.
        for i in sorted(set(range(len(slices))) - set(outcomes)):
            outcomes[i] = here.run_slice(slices[i], acts, progress=progress_of(slices[i]))
    except (KeyboardInterrupt, CaseTimedOut) as stop:  # keep what every process checked
        if i is not None and i not in outcomes:
            outcomes[i] = here.so_far(slices[i])
        stopped = stop.seconds if isinstance(stop, CaseTimedOut) else None
        for p in procs:  # the others stop at their next case and send what they checked
            if p.is_alive() and p.pid is not None:
                with contextlib.suppress(OSError):
                    os.kill(p.pid, signal.SIGINT)
        deadline = time.monotonic() + 2.0
        while len(exited) < len(procs) and time.monotonic() < deadline:
            with contextlib.suppress(KeyboardInterrupt, CaseTimedOut):
                drain(block=True)
        raise Interrupted([outcomes[k] for k in sorted(outcomes)], stopped) from None
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(timeout=5)
    return [outcomes[i] for i in range(len(slices))]


def _kill(procs: Sequence[Any]) -> None:
    """End the worker processes now (a second Ctrl-C)."""
    for p in procs:
        if p.pid is not None:
            with contextlib.suppress(OSError):
                os.kill(p.pid, signal.SIGKILL)
    stop_server()


def release(started: Prestarted | None) -> None:
    """Let processes ``prestart`` started that no campaign took (an error, a replay, another
    number of workers) exit (a job of None), or end them."""
    if started is None:
        return
    started.starter.join()
    running = [p for p in started.procs if p.pid is not None]
    for _ in running:
        started.jobs.put(None)
    for p in running:
        p.join(timeout=5)
        if p.is_alive():
            p.terminate()


def stop_server() -> None:
    """End the fork server that the workers come from, if this process started one.

    The command calls this as it exits. A server still importing torch and jax (a run shorter
    than its start-up) would otherwise go on for a second or two after the command, holding
    its output open: a CI step or a caller reading that output waits for it.
    """
    from multiprocessing import forkserver

    pid = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)
    if pid is not None:
        with contextlib.suppress(OSError):  # gone already
            os.kill(pid, signal.SIGTERM)
