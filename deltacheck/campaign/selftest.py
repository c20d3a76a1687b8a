"""``deltacheck selftest``: every seeded bug through a campaign; the gate proves it has teeth.

Each bug of ``deltacheck.bugs`` is run as the implementation under test of a campaign with
the chosen profile. A campaign's slices are seeded independently, so a bug is caught by the
whole campaign exactly when one of its slices meets a failing case: the selftest runs the
slices in turn (one of each loss, then the next of each) and stops at the first failure,
which gives the same verdict as ``deltacheck run --impl deltacheck.bugs:NAME`` in less time:
with the same profile and seed it checks the same cases, up to the first failing one
(tests/test_selftest_agrees.py).

The kill table goes to the console and to ``selftest.json`` beside the reports; every later
run report shows the last kill rate.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deltacheck.campaign.bugs import BUGS, SeededBug
from deltacheck.campaign.planning import PROFILES, Config, drawn_activations, plan
from deltacheck.campaign.slices import Campaign, settle_imports
from deltacheck.core.case import LOSSES
from deltacheck.core.conventions import declared
from deltacheck.core.errors import DeltacheckError

SCHEMA = "deltacheck-selftest/1"


@dataclass(frozen=True)
class Kill:
    """One bug's row of the kill table."""

    bug: SeededBug
    caught: bool
    cases: int  # cases checked up to and including the first failing one (all, if none)
    loss: str | None  # the loss of the slice that caught it
    message: str
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"bug": self.bug.name, "kind": self.bug.kind, "first_wrong": self.bug.first_wrong,
                "description": self.bug.description, "caught": self.caught, "cases": self.cases,
                "loss": self.loss, "message": self.message, "seconds": round(self.seconds, 3)}


def select(names: Sequence[str] | None) -> list[SeededBug]:
    """The bugs called ``names`` (every bug for None), in the table's order."""
    if names is None:
        return list(BUGS)
    known = {bug.name: bug for bug in BUGS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DeltacheckError(f"--bugs has unknown {', '.join(unknown)}; choose from "
                              f"{', '.join(known)}")
    return [bug for bug in BUGS if bug.name in names]


def hunt(bug: SeededBug, config: Config) -> Kill:
    """Run the campaign's slices on one bug until a case fails."""
    started = time.time()
    run = Campaign(config, lambda *args: None, stop_at_failure=True)
    acts = drawn_activations(config)
    total = config.examples or PROFILES[config.profile].examples
    slices = sorted(plan(total, list(config.losses)),
                    key=lambda s: (s.number, LOSSES.index(s.loss)))
    checked = 0
    for piece in slices:
        # the bugs overflow and spread NaN on purpose: their warnings say nothing here
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            outcome = run.run_slice(piece, acts)
        failing = [i for i, r in enumerate(outcome.records) if r["verdict"] == "fail"]
        if outcome.disagreed and failing:
            # Hypothesis may go on after the first failure; count only up to it
            first = outcome.records[failing[0]]
            return Kill(bug, True, checked + failing[0] + 1, piece.loss,
                        first.get("message", ""), time.time() - started)
        checked += len(outcome.records)
    return Kill(bug, False, checked, None, "", time.time() - started)


def run(*, profile: str = "ci", seed: int | None = None, examples: int | None = None,
        dtype: str = "float64", oracles: Sequence[str] = ("torch", "jax", "fd"),
        bugs: Sequence[SeededBug] | None = None,
        progress: Callable[[Kill], None] | None = None) -> dict[str, Any]:
    """Hunt every bug with the same campaign settings; the selftest document."""
    started = time.time()
    # as run does: Hypothesis draws constants from the modules loaded, so the same seed draws
    # the same cases only after the same imports
    settle_imports()
    chosen = list(BUGS) if bugs is None else list(bugs)
    kills = []
    # only the seed is read from this config: with no bug chosen, any bug's impl will do
    first = Config(impl=(chosen or list(BUGS))[0].backprop, impl_spec="",
                            profile=profile, seed=seed, examples=examples, dtype=dtype,
                            oracles=oracles)
    seed = Campaign(first, lambda *args: None).seed  # one seed for every bug
    for bug in chosen:
        config = Config(impl=bug.backprop, impl_spec=f"deltacheck.bugs:{bug.name}",
                        profile=profile, seed=seed, examples=examples, dtype=dtype,
                        oracles=oracles, conventions=declared(bug.backprop))
        kills.append(hunt(bug, config))
        if progress is not None:
            progress(kills[-1])
    killed = sum(k.caught for k in kills)
    return {
        "schema": SCHEMA,
        "run": {"profile": profile, "seed": seed, "dtype": dtype, "oracles": list(oracles),
                "examples": examples or PROFILES[profile].examples,
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                "wall_time_s": round(time.time() - started, 3)},
        "summary": {"killed": killed, "total": len(kills),
                    "verdict": "pass" if killed == len(kills) else "fail"},
        "bugs": [k.to_json() for k in kills],
    }


def table(doc: dict[str, Any]) -> list[str]:
    """The kill table and its last lines, for the console."""
    width = max((len(row["bug"]) for row in doc["bugs"]), default=3)
    lines = [f"{'bug':<{width}}  {'kind':<21} {'caught':<7} {'cases':>6} {'loss':<5} {'s':>6}"]
    for row in doc["bugs"]:
        lines.append(f"{row['bug']:<{width}}  {row['kind']:<21} "
                     f"{'yes' if row['caught'] else 'NO':<7} {row['cases']:>6} "
                     f"{row['loss'] or '-':<5} {row['seconds']:>6.1f}")
    run_info, summary = doc["run"], doc["summary"]
    lines.append(f"profile {run_info['profile']}, seed {run_info['seed']}, {run_info['dtype']}, "
                 f"oracles {','.join(run_info['oracles'])}: {run_info['wall_time_s']:.1f} s")
    missed = [row["bug"] for row in doc["bugs"] if not row["caught"]]
    lines.append(f"caught {summary['killed']} of {summary['total']} seeded bugs"
                 + (f"; missed: {', '.join(missed)}" if missed else ""))
    return lines


def last_kill_rate(path: Path) -> dict[str, Any] | None:
    """What a run report shows of the selftest saved at ``path``, or None if there is none."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        summary, run_info = doc["summary"], doc["run"]
        return {"killed": int(summary["killed"]), "total": int(summary["total"]),
                "profile": str(run_info["profile"]), "seed": run_info["seed"],
                "dtype": str(run_info["dtype"]), "started": str(run_info["started"]),
                "path": str(path)}
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or not a selftest's: the report just says nothing


def describe(rate: dict[str, Any]) -> str:
    """One line: how many seeded bugs the last selftest caught, and how it ran."""
    return (f"{rate['killed']}/{rate['total']} seeded bugs caught (profile {rate['profile']}, "
            f"seed {rate['seed']}, {rate['dtype']}, {rate['started']})")
