"""What a campaign has checked so far: every case's record, the failures kept in full, the
minimal networks, and the case being checked now (for a rescue from a call that hangs).
"""

from __future__ import annotations

import contextlib
from typing import Any

from deltacheck.campaign import exact, history, own_loss
from deltacheck.campaign import larger as bigger
from deltacheck.campaign.planning import Config, Slice, SliceOutcome
from deltacheck.campaign.reproduce import reproduce_command
from deltacheck.core import interrupts
from deltacheck.core.case import Case
from deltacheck.core.gradients import Gradients
from deltacheck.core.verdicts import ERROR, FAIL
from deltacheck.core.watchdog import CaseTimedOut
from deltacheck.diagnosis import diagnosed
from deltacheck.judging.check import CaseResult, check_case
from deltacheck.results import document as results
from deltacheck.results.numbering import MAX_FAILURES

WIDE_SAMPLES = 64  # a dropout of p = 0.02 shows in two calls on 64 samples 92 times in 100


class Ledger:
    """Checks cases one by one and keeps what they gave."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.records: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.minimal: list[CaseResult] = []
        self.failed_count = 0
        self.shrink_steps = 0
        self.finished: list[SliceOutcome] = []  # slices done (see settled)
        self.current: Slice | None = None  # the slice being checked
        self.in_progress: tuple[Case, str] | None = None  # the case being checked, its phase
        self.first_case: Case | None = None  # the first this ledger called the implementation on

    def check(self, case: Case, phase: str, *, earlier: Gradients | None = None,
              larger: CaseResult | None = None) -> CaseResult:
        """Check one case and keep its record (and its values, if it failed).

        A minimal or replayed case runs the implementation twice, to tell a nondeterministic
        implementation (dropout left on) from a wrong one; a failing one is then checked again
        (``history``), to tell an implementation that keeps state between calls, or fails by
        chance, from a wrong one.
        """
        interrupts.checkpoint()  # a Ctrl-C that waited (JAX loaded) stops the run here
        self.in_progress = (case, phase)
        if self.first_case is None:
            self.first_case = case
        # the first case of a slice, and a minimal or replayed one, also probe for arrays
        # that the next call overwrites
        probe = phase in ("minimal", "replay") or (phase == "generate" and not self.records)
        result = check_case(case, self.config.impl, self.config.oracles,
                            repeat=phase in ("minimal", "replay"), earlier=earlier,
                            conventions=self.config.conventions, checks=self.config.checks,
                            timeout=self.config.case_timeout, probe=probe)
        result = diagnosed(result)
        if phase in ("minimal", "replay") and result.verdict == FAIL and not result.aliased \
                and result.impl_values is not None and result.timed_out is None:
            result = history.apply(result, history.recheck(self.config, result,
                                                           self.first_case))
            result = bigger.survive(result, larger)  # the run's larger failing case beside it
            result = self.grow(result)
            result = self.unsteady(result, larger)
            result = own_loss.forward_slip(self.config, result)  # E explains the gradients
        self.in_progress = None
        return self.keep(result, phase)

    def grow(self, result: CaseResult) -> CaseResult:
        """Where the minimal case and the run's larger one cannot tell the kind apart, the
        minimal case grown (``larger.grown``) is checked too, and read beside it."""
        case = bigger.grown(result.case) if bigger.unsettled(result) else None
        if case is None or isinstance(result.case, exact.SeededCase):
            return result
        big = check_case(case, self.config.impl, self.config.oracles,
                         conventions=self.config.conventions, checks=self.config.checks,
                         timeout=self.config.case_timeout)
        if big.verdict != FAIL:
            return result
        return bigger.survive(result, diagnosed(big), "the minimal case grown")

    def unsteady(self, result: CaseResult, larger: CaseResult | None,
                 tries: int = 3) -> CaseResult:
        """Where the minimal case gave the same values every time, the run's larger failing
        case and the minimal case grown to many samples are called twice more (``tries``
        times each): values that differ beyond the allowance there show an implementation
        that returns different results for the same input (a dropped entry a one-entry case
        rarely meets), whatever the minimal case reads as."""
        kind = (result.diagnosis or {}).get("kind")
        if kind in bigger.RUN_KINDS or isinstance(result.case, exact.SeededCase):
            return result
        cases = [(larger.case, "the run's larger failing case")] \
            if larger is not None and larger.case is not result.case else []
        wide = bigger.grown(result.case, samples=WIDE_SAMPLES)
        cases += [(wide, "the minimal case grown")] if wide is not None else []
        for case, name in cases:
            for _ in range(tries):
                # one oracle gives the allowance the two calls are compared at
                again = diagnosed(check_case(case, self.config.impl, self.config.oracles[:1],
                                             repeat=True, conventions=self.config.conventions,
                                             checks=self.config.checks,
                                             timeout=self.config.case_timeout))
                d = again.diagnosis or {}
                if d.get("kind") == "nondeterministic":
                    assert result.diagnosis is not None
                    result.diagnosis = {**result.diagnosis, "kind": "nondeterministic",
                                        "detail": (
                        f"{d.get('detail')} (on {name}, N = {case.batch}, widths "
                        f"{'-'.join(map(str, case.widths))}; on the minimal case, "
                        f"{bigger.shape_text(result)}, every call gave the same values, which "
                        f"read as {kind})")}
                    return result
        return result

    def settled(self, outcomes: list[SliceOutcome]) -> None:
        """The slices done so far, in whichever process: what a rescue from a hung call reports."""
        self.finished = outcomes

    def hung(self, seconds: float) -> None:
        """Record the case whose call outlived its limit and could not be stopped."""
        if self.in_progress is None:
            return
        case, phase = self.in_progress
        self.in_progress = None
        result = CaseResult(case=case, verdict=FAIL, timed_out=seconds, impl_problem=(
            f"timed out after {seconds:g} s and could not be stopped (its call never came "
            f"back to Python)"))
        with contextlib.suppress(CaseTimedOut):
            self.keep(result, phase)

    def keep(self, result: CaseResult, phase: str) -> CaseResult:
        """Record a checked case (and its values, if it failed); a timeout ends the run here."""
        self.records.append(results.case_json(len(self.records), result, phase))
        if result.verdict in (FAIL, ERROR):
            self.failed_count += 1
            if (len(self.failures) < MAX_FAILURES or phase in ("minimal", "replay")
                    or result.timed_out is not None):
                # every case is in the JSON's case list; these also carry their values
                before = (result.diagnosis or {}).get("before") or []
                failure = results.failure_json(len(self.records) - 1, result,
                                               minimal=phase == "minimal",
                                               repro=self.repro(result.case, before))
                if isinstance(result.case, exact.SeededCase):  # at real size: its seed only
                    failure = exact.compact_failure(failure, result.case)
                self.failures.append(failure)
        if result.timed_out is not None:
            raise CaseTimedOut(result.timed_out)
        return result

    def repro(self, case: Case, before: list[dict[str, Any]] | None = None) -> str:
        """A command that re-runs exactly this case (after the calls ``before`` it)."""
        return reproduce_command(self.config, case, before or ())


    def so_far(self, piece: Slice, *, disagreed: bool = False) -> SliceOutcome:
        """What the slice being run has found until now (all of it, once it has run)."""
        return SliceOutcome(index=piece.index, records=self.records, failures=self.failures,
                            minimal=self.minimal, failed_count=self.failed_count,
                            shrink_steps=self.shrink_steps, disagreed=disagreed)
