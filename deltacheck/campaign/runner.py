"""The verification campaign: Hypothesis draws cases, every case meets every oracle.

The budget of each loss is cut into slices of at most SLICE_CASES cases, each with its own
seed, so that a campaign is the same set of cases however it is run: in one process, in
``--workers`` processes, or as ``--shard K/N`` slices on separate machines, merged later.
In each slice, Hypothesis generates cases (steered by ``target()`` toward the largest error
per oracle and toward large pre-activations) until one fails; it then shrinks that failure
to a minimal network. The cases checked before the failure are kept, the minimal one is
kept, and a second pass without shrinking checks the rest of the slice, so no result is lost
and the report covers as many cases as asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deltacheck.campaign import exact, larger, planning
from deltacheck.campaign.planning import (
    PROFILES,
    Config,
    Interrupted,
    Slice,
    SliceOutcome,
    assemble,
    drawn_activations,
    planned,
)
from deltacheck.campaign.slices import Campaign, heap_frozen, settle_imports
from deltacheck.core import interrupts, watchdog
from deltacheck.core.verdicts import ERROR, FAIL, PASS
from deltacheck.core.watchdog import CaseTimedOut
from deltacheck.judging.calling import call
from deltacheck.judging.check import CaseResult
from deltacheck.results import document as results

if TYPE_CHECKING:
    from deltacheck.campaign.session import Session


@dataclass
class Outcome:
    """The results document and what the console needs to say."""

    document: dict[str, Any]
    exit_code: int
    minimal: list[CaseResult] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C: the document holds the cases checked until then
    timed_out: float | None = None  # a case outlived this limit (s): the run stopped there


def _run_slices(config: Config, campaign: Campaign, slices: list[Slice], acts: list[str],
                progress: Callable[[str, int, int, int], None],
                session: Session | None = None) -> list[SliceOutcome]:
    if config.workers > 1 and len(slices) > 1:
        from deltacheck.campaign import parallel

        return parallel.run_slices(config, campaign.seed, slices, acts, progress, here=campaign,
                                   started=session.take_workers() if session else None)
    outcomes: list[SliceOutcome] = []
    totals = {loss: sum(s.budget for s in slices if s.loss == loss) for loss in config.losses}
    done = dict.fromkeys(totals, 0)

    def tally(loss: str, n: int, total: int, failed: int) -> None:
        """Progress over the loss's slices, not only the current one."""
        progress(loss, done[loss] + n, totals[loss],
                 sum(o.failed_count for o in outcomes) + failed)

    campaign.settled(outcomes)  # appended to as the slices end
    for piece in slices:
        try:
            outcomes.append(campaign.run_slice(piece, acts, progress=tally))
        except KeyboardInterrupt:  # keep the cases of the slice cut short too
            raise Interrupted([*outcomes, campaign.so_far(piece)]) from None
        except CaseTimedOut as stop:
            raise Interrupted([*outcomes, campaign.so_far(piece)], stop.seconds) from None
        done[piece.loss] += piece.budget
    return outcomes


@dataclass
class _Run:
    """What ``run`` gathers, kept where the watchdog's rescue can read it too."""

    config: Config
    campaign: Campaign
    total: int
    acts: list[str] | None
    started: float = field(default_factory=time.time)
    slices: list[Slice] = field(default_factory=list)

    def outcome(self, records: list[dict[str, Any]], failures: list[dict[str, Any]],
                minimal: list[CaseResult], shrink_steps: int, *, interrupted: bool,
                timed_out: float | None) -> Outcome:
        """The results document of what was checked, and the exit code."""
        config, slices = self.config, self.slices
        run_info = {
            "impl": config.impl_spec, "profile": config.profile, "seed": self.campaign.seed,
            "conventions": config.conventions.to_json(), "checks": planning.checks_json(config),
            "widths": None if config.widths is None else list(config.widths),
            "dtype": config.dtype, "examples": self.total,
            "losses": list(config.losses), "activations": self.acts,
            "user_activations": list(config.user_activations),
            "oracles": list(config.oracles), "replay": config.replay is not None,
            "shrink_steps": shrink_steps,
            "max_layers": config.max_layers, "max_width": config.max_width,
            "max_batch": config.max_batch, "workers": config.workers,
            "shard": None if config.shard is None else "{}/{}".format(*config.shard),
            "slices": [s.index for s in slices], "slice_cases": planning.SLICE_CASES,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "wall_time_s": round(time.time() - self.started, 3), "interrupted": interrupted,
            "asked": 1 if config.replay is not None else sum(s.budget for s in slices),
            "case_timeout": config.case_timeout, "timed_out": timed_out,
        }
        doc = results.document(run=run_info, cases=records, failures=failures,
                               oracle_names=config.oracles, dtype=config.dtype)
        doc["minimal_failures"] = [f["id"] for f in failures if f["minimal"]]
        exit_code = 130 if interrupted else 0 if doc["summary"]["verdict"] in (PASS,) else 1
        return Outcome(document=doc, exit_code=exit_code, minimal=minimal,
                       interrupted=interrupted, timed_out=timed_out)

    def rescue(self, seconds: float) -> Outcome:
        """The outcome so far when a call hangs where it cannot be stopped (watchdog's thread)."""
        campaign = self.campaign
        campaign.hung(seconds)
        if self.acts is None:
            records, failures, minimal = campaign.records, campaign.failures, campaign.minimal
        else:
            now = [*campaign.finished]
            if campaign.current is not None:
                now.append(campaign.so_far(campaign.current))
            records, failures, minimal = assemble(now)
        return self.outcome(records, failures, minimal, campaign.shrink_steps,
                            interrupted=False, timed_out=seconds)


def run(config: Config, progress: Callable[[str, int, int, int], None] | None = None, *,
        on_stuck: Callable[[Outcome], None] | None = None,
        session: Session | None = None) -> Outcome:
    """Run a campaign (or replay one case) and build its results document.

    ``on_stuck`` gets the outcome so far if a call of the implementation outlives its limit
    and cannot be stopped (see ``core.watchdog``); it is expected to end the process.
    ``session``: what the caller started ahead of the run (workers it hands over).
    """
    progress = progress or (lambda loss, done, total, failed: None)
    settle_imports()
    interrupts.checkpoint()
    this = _Run(config, Campaign(config, progress),
                config.examples or PROFILES[config.profile].examples,
                None if config.replay is not None else drawn_activations(config))
    if this.acts is not None and config.widths is not None:  # one per hidden layer, in order
        this.acts = list(exact.hidden_activations(config.widths, config.activations, config.impl))
    release = watchdog.on_stuck(lambda seconds: on_stuck(this.rescue(seconds))) \
        if on_stuck is not None else (lambda: None)
    try:
        outcome = _checked(this, progress, session)
    finally:
        release()
    if outcome.interrupted:
        interrupts.acknowledge()
    return outcome


def _checked(this: _Run, progress: Callable[[str, int, int, int], None],
             session: Session | None) -> Outcome:
    config, campaign, acts = this.config, this.campaign, this.acts
    interrupted = False  # Ctrl-C: stop, and keep every case checked until then
    timed_out: float | None = None  # a case outlived its limit: the same, but a failure
    if acts is None:
        assert config.replay is not None  # acts is None only for a replay
        try:
            for earlier in config.replay_before:  # the calls a stateful failure needs first
                call(earlier, config.impl, config.conventions, timeout=config.case_timeout)
            result = campaign.check(config.replay, "replay")
            if result.verdict in (FAIL, ERROR):
                campaign.minimal.append(result)
                campaign.failures[-1]["minimal"] = True
        except KeyboardInterrupt:
            interrupted = True
        except CaseTimedOut as stop:
            timed_out = stop.seconds
        return this.outcome(campaign.records, campaign.failures, campaign.minimal, 0,
                            interrupted=interrupted, timed_out=timed_out)
    slices = this.slices = planned(this.total, list(config.losses), config.shard)
    try:
        with heap_frozen():
            outcomes = _run_slices(config, campaign, slices, acts, progress, session)
    except Interrupted as stop:
        outcomes, timed_out = stop.outcomes, stop.timed_out
        interrupted = timed_out is None
    campaign.settled(outcomes)
    try:
        for loss in [] if interrupted or timed_out else config.losses:
            # one minimal network per loss, from its first failing slice
            first = next((o for o, s in zip(outcomes, slices, strict=True)
                          if s.loss == loss and o.disagreed), None)
            if first is not None:
                campaign.shrink_into(first, slices[outcomes.index(first)], acts)
        larger.relabel(outcomes, slices)  # a stateful or chance failure: no other symptom
    except KeyboardInterrupt:  # while shrinking: the cases checked are all kept
        interrupted = True
    except CaseTimedOut as stop:  # shrinking met a case that hangs: kept, and the end
        timed_out = stop.seconds
    records, failures, minimal = assemble(outcomes)
    return this.outcome(records, failures, minimal, sum(o.shrink_steps for o in outcomes),
                        interrupted=interrupted, timed_out=timed_out)
