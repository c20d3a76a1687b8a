"""Judge one layer case: the forward first (output, running statistics, loss value), then every
returned gradient against each truth, with the comparison rule and tolerance table of ``run``
(``deltacheck.judging.compare.judge``): |x − y| ≤ rtol · s + u + floor, NaN never passes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltacheck.core import tolerances
from deltacheck.core.errors import exception_text
from deltacheck.core.numbers import distinct
from deltacheck.core.verdicts import ERROR, FAIL, NOT_JUDGED, PASS, Verdict, worst
from deltacheck.judging.compare import Entries, judge
from deltacheck.judging.records import QuantityResult
from deltacheck.layers import truths
from deltacheck.layers.calling import UserRun, run_user, shape_problem
from deltacheck.layers.discovery import LayerSpec
from deltacheck.layers.draws import LayerCase
from deltacheck.oracles.layers import Kind, forward, get_kind

FORWARD_ORACLE = "torch"  # the forward is judged with this oracle's row of the table


@dataclass
class CaseOutcome:
    """The verdict of one case, its reason, and what the report shows of it."""

    verdict: Verdict
    message: str = ""
    stage: str = ""  # forward, backward, shape, modified, nonfinite, gradient
    first_wrong: str = ""  # dx, dw, ... (or out, running_mean, loss)
    results: dict[str, dict[str, QuantityResult]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)  # at the worst entry: user, torch, jax
    run: UserRun | None = None
    truths: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    not_judged: int = 0
    unresolved: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # oracle -> why it could not judge


def _rtol(oracle: str, dtype: str) -> float:
    return tolerances.lookup(oracle, dtype).rtol


def _array(value: Any) -> np.ndarray | None:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def check_case(spec: LayerSpec, case: LayerCase, oracles: Sequence[str],
               jax_budget: truths.JaxBudget | None = None, force: bool = False) -> CaseOutcome:
    """Run the user's layer on ``case`` and judge it (jax only where ``jax_budget`` admits)."""
    if "jax" in oracles and jax_budget is not None and \
            not jax_budget.admits(get_kind(spec.kind), case, force):
        oracles = [o for o in oracles if o != "jax"]
    kind = get_kind(spec.kind)
    run = run_user(spec, case)
    if run.problem and run.stage == "forward":
        return CaseOutcome(FAIL, run.problem, "raised" if " raised " in run.problem
                           else "forward", "out", run=run)
    want, extras = forward(kind, "numpy", truths.as64(case.inputs), run.ref_params)
    problem = shape_problem(kind, run, case, want)
    if problem:
        return CaseOutcome(FAIL, problem, "shape", problem.split()[0], run=run)
    outcome = _judge_forward(kind, case, run, want, extras)
    if outcome is not None or not run.checks_backward or (spec.backward is None and not kind.loss):
        return outcome or CaseOutcome(PASS, run=run)
    if run.problem:
        return CaseOutcome(FAIL, run.problem, run.stage, "", run=run)
    return _judge_gradients(spec, kind, case, run, oracles)


def _judge_forward(kind: Kind, case: LayerCase, run: UserRun, want: np.ndarray,
                   extras: dict[str, np.ndarray]) -> CaseOutcome | None:
    rtol = _rtol(FORWARD_ORACLE, case.dtype)
    out = _array(run.out)
    if out is None:
        return CaseOutcome(FAIL, f"the output is {type(run.out).__name__}, not an array",
                           "forward", "out", run=run)
    name = "loss" if kind.loss else "out"
    items = [Entries(name, None, out, want, rtol,
                     floor=truths.forward_floor(kind, case, run.ref_params, want))]
    eps = float(np.finfo(case.dtype).eps)
    for stat, value in extras.items():
        if case.train_first:  # test mode: the stats are the train step's, given to both
            continue
        got = _array(run.extras.get(stat))
        if got is None or got.shape != value.shape:
            return CaseOutcome(FAIL, f"bn_param[{stat!r}] after the train step is "
                               f"{'missing' if got is None else got.shape}, but should have "
                               f"shape {value.shape}", "forward", stat, run=run)
        items.append(Entries(stat, None, got, value, rtol,
                             floor=tolerances.FLOOR_FACTOR * eps * (np.abs(value) + 1.0)))
    for q in judge(items):
        if q.verdict in (FAIL, ERROR):
            at = list(q.worst or ())
            got_s, want_s = distinct(q.impl_value or 0.0, q.oracle_value or 0.0)
            return CaseOutcome(FAIL, f"wrong forward: {q.quantity}{at if at else ''} = {got_s}, "
                               f"but the reference gives {want_s} (err {q.err:.2g} > rtol "
                               f"{rtol:.0e})", "forward", q.quantity,
                               results={"reference": {q.quantity: q}}, run=run)
    return None


def _judge_gradients(spec: LayerSpec, kind: Kind, case: LayerCase, run: UserRun,
                     oracles: Sequence[str]) -> CaseOutcome:
    arrays = {name: _array(value) for name, value in run.grads.items()}
    grads = {name: value for name, value in arrays.items() if value is not None}
    bad = [name for name in arrays if name not in grads]
    if bad:
        return CaseOutcome(FAIL, f"{bad[0]} is not an array of numbers", "gradient", bad[0],
                           run=run)
    found: dict[str, tuple[dict[str, np.ndarray], dict[str, Any]]] = {}
    skipped: dict[str, str] = {}
    for oracle in oracles:
        if oracle == "fd":
            fd = truths.fd_truth(spec, kind, case, run.ref_params, run.dout)
            if fd is not None:
                found["fd"] = fd
        elif not kind.forwards:
            found[oracle] = (truths.framework_truth(kind, oracle, case, run.ref_params,
                                                    run.dout), {})
        else:  # a declared forward may not run in every framework: that oracle says so
            try:
                found[oracle] = (truths.framework_truth(kind, oracle, case, run.ref_params,
                                                        run.dout), {})
            except Exception as exc:
                skipped[oracle] = f"{type(exc).__name__}: {exception_text(exc)}"
    frameworks = [o for o in found if o != "fd"]
    floors = (truths.floors(kind, case, run.ref_params, run.dout, found[frameworks[0]][0],
                            frameworks[0]) if frameworks else None)
    items, spans = [], []
    for oracle, (truth, bars) in found.items():
        masks = truths.unjudged(kind, case, oracle)
        for name in kind.grads:
            eps = float(np.finfo(case.dtype).eps)
            floor = floors[name] if floors is not None else \
                tolerances.FLOOR_FACTOR * eps * (np.abs(truth[name]) + 1e-3)
            items.append(Entries(name, None, grads[name], truth[name], _rtol(oracle, case.dtype),
                                 masks[name], bars.get(name, 0.0), floor))
            spans.append((oracle, name))
    results: dict[str, dict[str, QuantityResult]] = {}
    for (oracle, name), q in zip(spans, judge(items), strict=True):
        results.setdefault(oracle, {})[name] = q
    outcome = CaseOutcome(PASS, run=run, results=results,
                          truths={o: t for o, (t, _) in found.items()}, skipped=skipped)
    outcome.not_judged = sum(q.not_judged for r in results.values() for q in r.values())
    outcome.unresolved = sum(q.unresolved for r in results.values() for q in r.values())
    verdicts = [q.verdict for r in results.values() for q in r.values()]
    outcome.verdict = worst(verdicts) if verdicts else NOT_JUDGED
    for name in kind.grads:
        failing = [(o, r[name]) for o, r in results.items() if r[name].verdict in (FAIL, ERROR)]
        if failing:
            oracle, q = failing[0]
            outcome.first_wrong, outcome.stage = name, "gradient"
            outcome.message = message(name, q, oracle, case)
            outcome.values = side_by_side(name, q, grads[name], outcome.truths)
            break
    if outcome.verdict == ERROR:
        outcome.verdict = FAIL
    return outcome


def message(name: str, q: QuantityResult, oracle: str, case: LayerCase) -> str:
    """``dx[0, 3] = 0.41, but torch says 0.40 (conv, float64, err 2.4e-2 > rtol 1e-12)``."""
    where = f"{name}[{', '.join(map(str, q.worst))}]" if q.worst else name
    got, want = distinct(q.impl_value or 0.0, q.oracle_value or 0.0)
    if q.impl_value is not None and not np.isfinite(q.impl_value):
        return f"{where} = {got}, but {oracle} says {want} (a non-finite value never passes)"
    return (f"{where} = {got}, but {oracle} says {want} ({case.kind}, {case.dtype}, err "
            f"{q.err:.2g} > rtol {_rtol(oracle, case.dtype):.0e})")


def side_by_side(name: str, q: QuantityResult, got: np.ndarray,
                 found: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """The user's, torch's, jax's and fd's values at the worst entry (and a few around it)."""
    at = tuple(q.worst or ())
    flat = int(np.ravel_multi_index(at, got.shape)) if at and got.ndim == len(at) else 0
    span = slice(max(flat - 2, 0), flat + 3)
    out: dict[str, Any] = {"gradient": name, "at": list(at),
                           "user": got.reshape(-1)[span].tolist()}
    for oracle, truth in found.items():
        out[oracle] = np.asarray(truth[name]).reshape(-1)[span].tolist()
    return out


__all__ = ["NOT_JUDGED", "PASS", "CaseOutcome", "check_case"]
