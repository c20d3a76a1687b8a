"""What a campaign has checked so far: every case's record, the failures kept in full, the
minimal networks, and the case being checked now (for a rescue from a call that hangs).
"""

from __future__ import annotations

import contextlib
from typing import Any

from deltacheck.campaign import exact, history
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
            result = history.apply(result, history.recheck(self.config, result))
            result = bigger.survive(result, larger)  # the run's larger failing case beside it
        self.in_progress = None
        return self.keep(result, phase)

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
                failure = results.failure_json(len(self.records) - 1, result,
                                               minimal=phase == "minimal",
                                               repro=self.repro(result.case))
                if isinstance(result.case, exact.SeededCase):  # at real size: its seed only
                    failure = exact.compact_failure(failure, result.case)
                self.failures.append(failure)
        if result.timed_out is not None:
            raise CaseTimedOut(result.timed_out)
        return result

    def repro(self, case: Case) -> str:
        """A command that re-runs exactly this case."""
        return reproduce_command(self.config, case)


    def so_far(self, piece: Slice, *, disagreed: bool = False) -> SliceOutcome:
        """What the slice being run has found until now (all of it, once it has run)."""
        return SliceOutcome(index=piece.index, records=self.records, failures=self.failures,
                            minimal=self.minimal, failed_count=self.failed_count,
                            shrink_steps=self.shrink_steps, disagreed=disagreed)
