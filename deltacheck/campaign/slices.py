"""Checking one slice: Hypothesis draws cases (steered by ``target()`` toward the largest error
per oracle and toward large pre-activations) until one fails, then shrinks that failure to a
minimal network. The cases checked before the failure are kept, the minimal one is kept, and a
second pass without shrinking checks the rest of the slice, so no result is lost.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import math
import random
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings, target
from hypothesis import seed as hypothesis_seed

from deltacheck.campaign import exact, larger, regions, strategies
from deltacheck.campaign.ledger import Ledger
from deltacheck.campaign.planning import PROFILES, Config, Slice, SliceOutcome
from deltacheck.core import interrupts
from deltacheck.core.case import LOSSES, Case
from deltacheck.core.verdicts import FAIL
from deltacheck.diagnosis import diagnosed
from deltacheck.judging.check import CaseResult, check_case
from deltacheck.results.numbering import numbered


class _Disagreement(AssertionError):
    """Raised inside the Hypothesis test so that it shrinks the failing case."""


def _log10_err(err: float, rtol: float) -> float:
    """log10(err / rtol) in [-30, 50], for ``target()``: never overflowing, never nan or inf.

    err / rtol itself overflows for a huge finite err (1.8e308 / 1e-7), so the logarithms are
    taken first; nan and inf count as the largest error there is.
    """
    err, rtol = abs(float(err)), float(rtol)
    if not math.isfinite(err):
        return 50.0
    if err == 0 or not (math.isfinite(rtol) and rtol > 0):
        return -30.0
    return min(50.0, max(-30.0, math.log10(err) - math.log10(rtol)))


def fingerprint(case: Case) -> bytes:
    """A digest of everything a case holds: two draws with one fingerprint are one case."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((case.widths, case.activations, case.loss, case.dtype)).encode())
    for array in (*case.weights, *case.biases, case.x, case.t):
        digest.update(array.tobytes())
    return digest.digest()


def _new(case: Case, seen: set[bytes]) -> bool:
    """Whether the case is new to this slice (and remember it).

    Many choices draw the same case (a "no" among several in a sampled_from, a gain of 1, a
    kink unit picked modulo the width), and the target phase mutates them: nearly half the
    cases of a slice would otherwise be checked twice, at the cost of distinct ones. A repeat
    is neither checked nor counted, and Hypothesis is allowed twice the budget in calls.
    """
    key = fingerprint(case)
    if key in seen:
        return False
    seen.add(key)
    return True


class _Enough(BaseException):
    """Raised inside the Hypothesis test once a slice has checked its budget of new cases.

    Not an Exception: Hypothesis would take one for a failure and go on drawing cases (about
    2 ms each) that are never checked; a BaseException ends its run at once.
    """


def _admit(case: Case, state: dict[str, Any], budget: int, *, shrink: bool) -> bool:
    """Whether to check a drawn case: a new one, within the budget (counted here); past it,
    the first pass ends (a shrink pass must not shrink that: it only stops checking)."""
    if state["checked"] >= budget:
        state["enough"] = not shrink
        if shrink:
            return False
        raise _Enough
    if not _new(case, state["seen"]):
        return False
    state["checked"] += 1
    return True


def _steer(result: CaseResult, *, toward_large_a: bool) -> None:
    """Point Hypothesis toward the largest error per oracle (and toward large a)."""
    for name, r in result.oracles.items():
        target(_log10_err(r.err, r.rtol), label=f"log10(err/rtol) {name}")
    if toward_large_a:
        # an overflow bug keeps its error at rounding level until e^a overflows: only a
        # pull toward large pre-activations finds the threshold
        target(regions.log_magnitude(result.case, result.forward.a if result.forward else None),
               label="log10(1 + max |a|)")


def slice_cases(cfg: Config, loss: str, acts: list[str]) -> Any:
    """The strategy of one loss's cases: exactly ``--widths``, or within the bounds."""
    one_hot = cfg.conventions.targets == "labels"
    if cfg.widths is not None:
        return exact.cases(cfg.widths, exact.hidden_activations(cfg.widths, cfg.activations,
                                                                cfg.impl),
                           loss, dtype=cfg.dtype, max_batch=cfg.max_batch, one_hot=one_hot)
    # now and then sizes well past the bounds: they break fixed buffers and chunking
    return strategies.cases(
        min_batch=1, max_batch=cfg.max_batch, dtype=cfg.dtype, max_layers=cfg.max_layers,
        max_width=cfg.max_width, activations=acts, losses=[loss],
        wide_width=max(2 * cfg.max_width, 16), wide_batch=max(2 * cfg.max_batch, 16),
        one_hot=one_hot)


class Campaign(Ledger):
    """One run: the cases, their records, the failures and the minimal networks."""

    def __init__(self, config: Config, progress: Callable[[str, int, int, int], None], *,
                 stop_at_failure: bool = False) -> None:
        """``stop_at_failure``: a slice ends at its first failure (the selftest needs no more)."""
        super().__init__(config)
        self.progress = progress
        self._strategies: dict[tuple[str, tuple[str, ...]], Any] = {}
        self.stop_at_failure = stop_at_failure
        seed = config.seed
        if seed is None:
            fixed = PROFILES[config.profile].fixed_seed
            seed = fixed if fixed is not None else random.SystemRandom().randrange(2**32)
        self.seed: int = seed

    def run_slice(self, piece: Slice, acts: list[str], *,
                  progress: Callable[[str, int, int, int], None] | None = None) -> SliceOutcome:
        """Run one slice from scratch and hand back what it found.

        ``progress``: where this slice reports its progress (the campaign's own by default).
        """
        if progress is not None:
            self.progress = progress
        self.records, self.failures, self.minimal = [], [], []
        self.failed_count = self.shrink_steps = 0
        self.current = piece
        disagreed = self.run_loss(piece.loss, piece.budget, acts, number=piece.number,
                                  shrink=False)
        return self.so_far(piece, disagreed=disagreed)

    def shrink_into(self, outcome: SliceOutcome, piece: Slice, acts: list[str]) -> None:
        """Run a failing slice again, shrink its first failure, add the minimal case to it.

        The same seed draws the same cases, so this finds the failure the slice met first;
        only the minimal case is recorded. Shrinking after the slices rather than inside them
        keeps one minimal network per loss however the slices were shared out.
        """
        self.records, self.failures, self.minimal = [], [], []
        self.failed_count = self.shrink_steps = 0
        self.current = piece
        try:
            self.run_loss(piece.loss, piece.budget, acts, number=piece.number, shrink=True)
        finally:  # a case that timed out while shrinking is kept too
            records, failures = numbered([(self.records, self.failures)], cap=None,
                                         start=len(outcome.records))
            outcome.records += records
            outcome.failures += failures
            outcome.minimal += self.minimal
            outcome.failed_count += self.failed_count
            outcome.shrink_steps += self.shrink_steps

    def strategy(self, loss: str, acts: list[str]) -> Any:
        """The cases of one loss, built once per campaign: building one costs ~15 ms a slice."""
        key = (loss, tuple(acts))
        if key not in self._strategies:
            self._strategies[key] = slice_cases(self.config, loss, acts)
        return self._strategies[key]

    def run_loss(self, loss: str, budget: int, acts: list[str], number: int = 0, *,
                 shrink: bool = True) -> bool:
        """Generate until a case fails, then finish the budget (or, ``shrink``, shrink it).

        Returns whether a generated case failed.
        """
        strategy = self.strategy(loss, acts)
        state: dict[str, Any] = {"failing": None, "checked": 0, "seen": set(), "enough": False}

        def test(case: Case) -> None:  # one line: Hypothesis reads its source on every run
            self._drawn(case, loss, budget, state, shrink=shrink)

        run = hypothesis_seed(self.seed + LOSSES.index(loss) + 3 * number)(settings(
            max_examples=2 * budget, deadline=None, database=None, derandomize=False,
            phases=(Phase.generate, Phase.target, *([Phase.shrink] if shrink else [])),
            report_multiple_bugs=False,
            suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
            print_blob=False)(given(strategy)(test)))
        try:
            run()
        except _Enough:  # the budget is checked: nothing failed
            pass
        except Exception:
            if state["failing"] is None and not state["enough"]:  # a bug of deltacheck's own
                raise
            if shrink:  # Hypothesis replays the shrunk example last: "failing" is minimal
                self.minimal.append(self.check(state["failing"].case, "minimal",
                                               earlier=state["failing"].impl_values,
                                               larger=state.get("first")))
                return True
        remaining = budget - state["checked"]
        if state["failing"] is not None and remaining > 0 and not self.stop_at_failure:
            self._continue(loss, strategy, remaining, budget - remaining, number, state["seen"])
        return state["failing"] is not None

    def _drawn(self, case: Case, loss: str, budget: int, state: dict[str, Any], *,
               shrink: bool) -> None:
        """Check a case Hypothesis drew for ``run_loss``; steer it, and raise on a failure."""
        if state["failing"] is not None and not shrink:
            # Once a case has failed, Hypothesis stops enforcing max_examples and its target
            # phase may go on calling: those calls must neither be checked nor recorded.
            raise _Disagreement(state["failing"].first_message())
        if state["failing"] is None and not _admit(case, state, budget, shrink=shrink):
            return
        if shrink:  # finding and shrinking again: judge, but keep only the minimal
            interrupts.checkpoint()
            self.in_progress = (case, "shrink")
            result = check_case(case, self.config.impl, self.config.oracles,
                                conventions=self.config.conventions, checks=self.config.checks,
                                timeout=self.config.case_timeout, probe=True)
            self.in_progress = None
            larger.first_failing(state, result)
            self.shrink_steps += state["failing"] is not None
            if result.timed_out is not None:  # kept (it ends the run): it is a failure too
                self.keep(diagnosed(result), "shrink")
        else:
            result = self.check(case, "generate")
            self.progress(loss, state["checked"], budget, self.failed_count)
        _steer(result, toward_large_a=True)
        if result.verdict == FAIL:
            state["failing"] = result
            raise _Disagreement(result.first_message())

    def _continue(self, loss: str, strategy: Any, remaining: int, done: int,
                  number: int, seen: set[bytes]) -> None:
        checked = {"n": done}

        def test(case: Case) -> None:
            if checked["n"] >= done + remaining:
                raise _Enough
            if not _new(case, seen):
                return
            result = self.check(case, "continue")
            checked["n"] += 1
            self.progress(loss, checked["n"], done + remaining, self.failed_count)
            _steer(result, toward_large_a=False)

        # a seed range of its own, apart from every slice's first pass
        run = hypothesis_seed(self.seed + 2**32 + LOSSES.index(loss) + 3 * number)(settings(
            max_examples=2 * remaining, deadline=None, database=None, phases=(Phase.generate,),
            suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
            print_blob=False)(given(strategy)(test)))
        with contextlib.suppress(_Enough):
            run()


@contextlib.contextmanager
def heap_frozen() -> Iterator[None]:
    """While cases are checked, the garbage collector leaves alone every object made before.

    torch and jax alone hold some 270,000 objects, which each full collection would walk
    again (about 3% of a campaign's time), and young objects are collected a tenth as often.
    Both are undone afterwards, so nothing is kept alive that would otherwise be freed. Does
    nothing when the caller froze objects itself.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(10 * thresholds[0], *thresholds[1:])  # and young objects less often
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def settle_imports() -> None:
    """Import every module of deltacheck (those whose dependencies are installed).

    Hypothesis now and then draws a number that appears as a constant in a module of the
    user's own code (any module not under site-packages) that has been imported by then: with
    an editable install, deltacheck's own modules count. So the cases of a seed depend on what
    has been imported, unless every process imports the same before it draws: this. (Not the
    pytest plugin, which would import pytest, nor ``__main__``.)
    """
    import importlib
    import pkgutil

    # the fixed top-level folders install as subpackages that an editable install maps from
    # elsewhere, where walking deltacheck's own folder does not find them
    pending = ["deltacheck", "deltacheck.oracles", "deltacheck.reference_impl", "deltacheck.reports"]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            package = importlib.import_module(name)
        except ImportError:  # a module for an optional dependency (jinja2 for the reports)
            continue
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if info.name in ("__main__", "pytest_plugin"):
                continue
            full = f"{name}.{info.name}"
            if info.ispkg:
                pending.append(full)
                continue
            try:
                importlib.import_module(full)
            except ImportError:
                continue
