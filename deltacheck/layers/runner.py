"""The campaign of one layer: Hypothesis draws cases, each is judged, and a failure shrinks to
minimal shapes. A layer's record is JSON-ready: its verdict, counts, and its failures (the
first found and the minimal one), each with the diagnosis and the values side by side."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from deltacheck.core.numbers import json_number
from deltacheck.core.verdicts import FAIL, NOT_JUDGED, PASS
from deltacheck.core.words import plural
from deltacheck.layers import replay, sandwich
from deltacheck.layers.discovery import LayerSpec
from deltacheck.layers.double import check_double
from deltacheck.layers.draws import LayerCase, layer_cases
from deltacheck.layers.judging import CaseOutcome, check_case
from deltacheck.layers.truths import JaxBudget
from deltacheck.oracles.layers import declared

PROFILES = {"quick": (100, None), "ci": (100, 0), "thorough": (2000, None)}


@dataclass
class Settings:
    """How hard to try: cases per layer, the seed, the dtype and the oracles."""

    examples: int = 100
    seed: int = 0
    dtype: str = "float64"
    oracles: Sequence[str] = ("torch", "jax", "fd")
    shrink: bool = True
    repro: str = ""  # the command line that reproduces the run, without --seed
    replay: LayerCase | None = None  # check only this case (a saved failing one)


class _Disagrees(Exception):
    def __init__(self, outcome: CaseOutcome, case: LayerCase) -> None:
        super().__init__(outcome.message)
        self.outcome, self.case = outcome, case


@dataclass
class _Tally:
    cases: int = 0
    not_judged_cases: int = 0
    not_judged: int = 0
    unresolved: int = 0
    judged_by: dict[str, int] = field(default_factory=dict)
    worst: dict[str, float] = field(default_factory=dict)
    first: tuple[CaseOutcome, LayerCase] | None = None
    shrinking: bool = False
    skipped: dict[str, str] = field(default_factory=dict)  # oracle -> the first reason

    def add(self, outcome: CaseOutcome) -> None:
        self.cases += 1
        self.not_judged_cases += outcome.verdict == NOT_JUDGED
        self.not_judged += outcome.not_judged
        self.unresolved += outcome.unresolved
        self.skipped = {**outcome.skipped, **self.skipped}
        for oracle, quantities in outcome.results.items():
            self.judged_by[oracle] = self.judged_by.get(oracle, 0) + 1
            errs = [q.err for q in quantities.values() if q.verdict != NOT_JUDGED]
            self.worst[oracle] = max([self.worst.get(oracle, 0.0), *errs])


def check_layer_spec(spec: LayerSpec, config: Settings,
                     progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the campaign on one layer; its record (JSON-ready)."""
    if spec.declared is None:
        return _campaign(spec, config, progress)
    with declared(spec.declared) as kind:
        # a function's forward has autograd in its own framework only
        oracles = tuple(o for o in config.oracles if o == "fd" or kind.reference(o))
        record = _campaign(spec, replace(config, oracles=oracles), progress)
    dropped = {o: f"{spec.name} has no {o} forward (its forward runs in "
                  f"{', '.join(f for f, _ in kind.forwards if f != 'numpy') or 'numpy only'})"
               for o in config.oracles if o not in oracles}
    if dropped:
        record["oracles_skipped"] = {**dropped, **record.get("oracles_skipped", {})}
    return record


def _campaign(spec: LayerSpec, config: Settings,
              progress: Callable[[str], None] | None) -> dict[str, Any]:
    start = time.perf_counter()
    tally, budget = _Tally(), JaxBudget()
    strategy = st.just(config.replay) if config.replay else layer_cases(spec.kind,
                                                                       dtype=config.dtype)
    strategy = strategy.map(lambda case: _with_params(case, spec))

    def test(case: LayerCase) -> None:
        outcome = check_case(spec, case, config.oracles, budget, force=tally.shrinking)
        if outcome.verdict == PASS and spec.double is not None:
            outcome = check_double(spec, case, outcome)
        if not tally.shrinking:
            tally.add(outcome)
        if outcome.verdict == FAIL:
            if tally.first is None:
                tally.first, tally.shrinking = (outcome, case), True
            raise _Disagrees(outcome, case)

    phases = (Phase.generate, *([Phase.shrink] if config.shrink else []))
    run = hypothesis_seed(config.seed)(settings(
        max_examples=config.examples, deadline=None, database=None, phases=phases,
        suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
        print_blob=False, report_multiple_bugs=False)(given(strategy)(test)))
    minimal: tuple[CaseOutcome, LayerCase] | None = None
    try:
        run()
    except _Disagrees as exc:
        minimal = (exc.outcome, exc.case)
    except Exception as exc:  # a flaky layer (different results on the same case)
        if tally.first is None:
            raise
        minimal = None
        tally.first[0].message += f" (shrinking stopped: {type(exc).__name__})"
    failures = []
    if tally.first is not None:
        failures.append(_failure(spec, *tally.first, minimal=minimal is None, config=config))
        if minimal is not None:
            # the minimal case again with every oracle, jax included
            outcome = check_case(spec, minimal[1], config.oracles, None)
            if outcome.verdict == PASS and spec.double is not None:
                outcome = check_double(spec, minimal[1], outcome)
            if outcome.verdict != FAIL:
                outcome = minimal[0]
            failures.append(_failure(spec, outcome, minimal[1], minimal=True, config=config))
    verdict = FAIL if failures else (PASS if tally.cases > tally.not_judged_cases
                                     else NOT_JUDGED)
    record = {
        "kind": spec.kind, "forward": spec.forward_name, "backward": spec.backward_name,
        "name": spec.name, "verdict": str(verdict), "cases": tally.cases,
        "failed_cases": 1 if failures else 0, "not_judged_cases": tally.not_judged_cases,
        "not_judged_entries": tally.not_judged, "unresolved_entries": tally.unresolved,
        "judged_by": tally.judged_by,
        "worst_err": {o: json_number(e) for o, e in tally.worst.items()},
        "params": {k: v for k, v in spec.params.items()},
        **({"oracles_skipped": tally.skipped} if tally.skipped else {}),
        "failures": failures, "wall_time_s": round(time.perf_counter() - start, 3)}
    if progress:
        progress(f"{spec.name}: {verdict} ({plural(tally.cases, 'case')})")
    return record


def _with_params(case: LayerCase, spec: LayerSpec) -> LayerCase:
    """The case with ``--param KEY=VALUE`` set in every param dict that has KEY."""
    fixed = {k: v for k, v in spec.params.items() if k not in ("dropout_p",)}
    if not fixed:
        return case
    params = {name: ({**v, **{k: x for k, x in fixed.items() if k in v}}
                     if isinstance(v, dict) else v) for name, v in case.params.items()}
    if spec.declared is not None:  # a declared kind's params are plain values
        params = {name: fixed.get(name, v) for name, v in params.items()}
    return LayerCase(case.kind, case.dtype, case.inputs, params, case.seed, case.region,
                     case.train_first)


def _failure(spec: LayerSpec, outcome: CaseOutcome, case: LayerCase, *, minimal: bool,
             config: Settings) -> dict[str, Any]:
    values = {k: ([json_number(x) for x in v] if isinstance(v, list) and k != "at" else v)
              for k, v in outcome.values.items()}
    return {"minimal": minimal, "message": outcome.message, "stage": outcome.stage,
            "gradient": outcome.first_wrong,
            "diagnosis": sandwich.diagnose(spec, case, outcome, config.oracles),
            "case": {"shapes": case.shapes(), "settings": case.settings(),
                     "region": case.region, "dtype": case.dtype, "seed": case.seed,
                     "describe": case.describe(), "data": replay.case_data(case)},
            "values": values,
            "repro": f"{config.repro} --seed {config.seed}".strip()}


def first_failures(records: Sequence[dict[str, Any]]) -> list[str]:
    """One line per failing layer: its name, the gradient and the cause."""
    lines = []
    for r in records:
        if r["verdict"] == FAIL:
            f = r["failures"][-1]
            lines.append(f"{r['name']}: {f['diagnosis']['cause']} in "
                         f"{f['gradient'] or f['stage']}: {f['message']}")
    return lines

