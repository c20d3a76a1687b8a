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
from typing import Any

from deltacheck.campaign import exact, planning
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
from deltacheck.core.verdicts import ERROR, FAIL, PASS
from deltacheck.judging.check import CaseResult
from deltacheck.results import document as results


@dataclass
class Outcome:
    """The results document and what the console needs to say."""

    document: dict[str, Any]
    exit_code: int
    minimal: list[CaseResult] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C: the document holds the cases checked until then


def _run_slices(config: Config, campaign: Campaign, slices: list[Slice], acts: list[str],
                progress: Callable[[str, int, int, int], None]) -> list[SliceOutcome]:
    if config.workers > 1 and len(slices) > 1:
        from deltacheck.campaign import parallel

        return parallel.run_slices(config, campaign.seed, slices, acts, progress)
    outcomes: list[SliceOutcome] = []
    totals = {loss: sum(s.budget for s in slices if s.loss == loss) for loss in config.losses}
    done = dict.fromkeys(totals, 0)

    def tally(loss: str, n: int, total: int, failed: int) -> None:
        """Progress over the loss's slices, not only the current one."""
        progress(loss, done[loss] + n, totals[loss],
                 sum(o.failed_count for o in outcomes) + failed)

    campaign.progress = tally
    for piece in slices:
        try:
            outcomes.append(campaign.run_slice(piece, acts))
        except KeyboardInterrupt:  # keep the cases of the slice cut short too
            raise Interrupted([*outcomes, campaign.so_far(piece)]) from None
        done[piece.loss] += piece.budget
    return outcomes


def run(config: Config, progress: Callable[[str, int, int, int], None] | None = None) -> Outcome:
    """Run a campaign (or replay one case) and build its results document."""
    progress = progress or (lambda loss, done, total, failed: None)
    settle_imports()
    campaign = Campaign(config, progress)
    started = time.time()
    slices: list[Slice] = []
    total = config.examples or PROFILES[config.profile].examples
    acts = None if config.replay is not None else drawn_activations(config)
    if acts is not None and config.widths is not None:  # one per hidden layer, in order
        acts = list(exact.hidden_activations(config.widths, config.activations, config.impl))
    interrupted = False  # Ctrl-C: stop, and keep every case checked until then
    if acts is None:
        assert config.replay is not None  # acts is None only for a replay
        try:
            result = campaign.check(config.replay, "replay")
            if result.verdict in (FAIL, ERROR):
                campaign.minimal.append(result)
                campaign.failures[-1]["minimal"] = True
        except KeyboardInterrupt:
            interrupted = True
        records, failures, minimal = campaign.records, campaign.failures, campaign.minimal
        shrink_steps = 0
    else:
        slices = planned(total, list(config.losses), config.shard)
        try:
            with heap_frozen():
                outcomes = _run_slices(config, campaign, slices, acts, progress)
        except Interrupted as stop:
            outcomes, interrupted = stop.outcomes, True
        try:
            for loss in [] if interrupted else config.losses:
                # one minimal network per loss, from its first failing slice
                first = next((o for o, s in zip(outcomes, slices, strict=True)
                              if s.loss == loss and o.disagreed), None)
                if first is not None:
                    campaign.shrink_into(first, slices[outcomes.index(first)], acts)
        except KeyboardInterrupt:  # while shrinking: the cases checked are all kept
            interrupted = True
        records, failures, minimal = assemble(outcomes)
        shrink_steps = sum(o.shrink_steps for o in outcomes)
    run_info = {
        "impl": config.impl_spec, "profile": config.profile, "seed": campaign.seed,
        "conventions": config.conventions.to_json(), "checks": planning.checks_json(config),
        "dtype": config.dtype, "examples": total,
        "losses": list(config.losses), "activations": acts,
        "user_activations": list(config.user_activations),
        "oracles": list(config.oracles), "replay": config.replay is not None,
        "shrink_steps": shrink_steps,
        "max_layers": config.max_layers, "max_width": config.max_width,
        "max_batch": config.max_batch, "workers": config.workers,
        "widths": None if config.widths is None else list(config.widths),
        "shard": None if config.shard is None else "{}/{}".format(*config.shard),
        "slices": [s.index for s in slices], "slice_cases": planning.SLICE_CASES,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_time_s": round(time.time() - started, 3), "interrupted": interrupted,
    }
    doc = results.document(run=run_info, cases=records, failures=failures,
                           oracle_names=config.oracles, dtype=config.dtype)
    doc["minimal_failures"] = [f["id"] for f in failures if f["minimal"]]
    exit_code = 130 if interrupted else 0 if doc["summary"]["verdict"] in (PASS,) else 1
    return Outcome(document=doc, exit_code=exit_code, minimal=minimal, interrupted=interrupted)
