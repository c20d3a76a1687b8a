"""Judge one model case, in the order that tells a composition slip from a gradient bug:

1. the params the model holds against those the composition reads;
2. its scores (``loss(X)``, test mode) against the composed reference's: a mismatch means the
   model composes its layers differently from the declared composition, never a gradient bug;
   test mode leaves batch norm's running statistics as they were;
3. ``loss(X, y)`` twice: the same loss both times (dropout's seed honoured);
4. its loss, then every entry of ``grads`` in the composition's order, against torch autograd
   and ``jax.vjp`` of the composed reference and central differences of its own loss, with the
   comparison rule and tolerance table of ``deltacheck run``. NaN never passes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltacheck.core import tolerances
from deltacheck.core.numbers import distinct
from deltacheck.core.verdicts import ERROR, FAIL, PASS, Verdict
from deltacheck.judging.compare import Entries, judge
from deltacheck.judging.records import QuantityResult
from deltacheck.layers.judging import side_by_side
from deltacheck.models import calls, compose, truths
from deltacheck.models.compose import Design
from deltacheck.oracles.layers.composed import scores as reference_scores

COMPOSITION = "composition"


@dataclass
class ModelOutcome:
    """The verdict of one case, its reason, and what the report shows of it."""

    verdict: Verdict
    message: str = ""
    stage: str = ""  # params, scores, running_stats, reproducible, call, loss, gradient
    first_wrong: str = ""  # W1, gamma2, ... (or scores, loss)
    composition: bool = False  # True: the slip is in the composition whatever the layers do
    results: dict[str, dict[str, QuantityResult]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    not_judged: int = 0
    unresolved: int = 0
    hint: str = ""  # what the numbers suggest (a different L2 factor)


@dataclass
class Case:
    """A drawn case: the design, inputs, labels and parameter values."""

    design: Design
    X: np.ndarray
    y: np.ndarray
    values: dict[str, np.ndarray]
    seed: int


def _rtol(oracle: str) -> float:
    return tolerances.lookup(oracle, "float64").rtol


def _fail(message: str, stage: str, what: str = "", composition: bool = False,
          **kw: Any) -> ModelOutcome:
    return ModelOutcome(FAIL, message, stage, what, composition, **kw)


def check(model: Any, case: Case, *, oracles: Sequence[str], l2: float) -> ModelOutcome:
    """Run and judge ``model`` (already given ``case.values``) on one case."""
    kinds = case.design.kinds
    names = compose.parameter_names(kinds)
    held = sorted(map(str, model.params))
    if sorted(names) != held:
        missing = [n for n in names if n not in model.params]
        extra = [n for n in held if n not in names]
        what = f"has no {missing[0]!r}" if missing else f"also holds {extra[0]!r}"
        return _fail(f"the model's params {what}: the model composes its layers differently "
                     f"from the declared composition ({compose.describe(kinds)}, which reads "
                     f"{', '.join(names)})", "params", (missing or extra)[0], True)
    given = getattr(model, "bn_params", None)
    bn_params: list[Any] = given if isinstance(given, list) else []
    _set_running_stats(bn_params, kinds, case)
    before = calls.snapshot(model)
    outcome = _scores(model, case, bn_params)
    if outcome is not None:
        return outcome
    moved = _changed(before, calls.snapshot(model))
    if moved:
        return _fail(f"loss(X) (test mode) changed {moved}", "running_stats", moved, True)
    before = calls.snapshot(model)
    with calls.recording_dropout(model) as masks:
        first, problem = calls.call(model, case.X, case.y)
    problem = problem or calls.loss_problem(first, names)
    if problem:
        return _fail(problem, "call")
    moved = _changed({**before, "bn_params": None}, calls.snapshot(model))
    if moved:  # the finite differences and the second call would see other params
        return _fail(f"loss(X, y) changed {moved}; a loss computes, the solver updates",
                     "call", moved)
    if not _reproducible(model, case, first, names):
        return _fail("loss(X, y) gives a different loss on a second call with the same "
                     "parameters and data (is dropout's seed honoured?)", "reproducible",
                     "loss", True)
    drops = sum(k == "dropout" for k in kinds)
    if masks and len(masks) != drops:
        return _fail(f"the model ran dropout {len(masks)} times in train mode, but the "
                     f"declared composition ({compose.describe(kinds)}) has {drops} dropout "
                     "layers", "params", "dropout", True)
    if not masks and drops:
        masks = _course_masks(case, drops)
    steps = compose.steps(kinds, case.values, mode="train", bn_params=bn_params,
                          keep=case.design.keep, masks=masks)
    return _gradients(model, case, steps, first, oracles, l2)


def _reproducible(model: Any, case: Case, first: Any, names: list[str]) -> bool:
    """Two more calls give the first call's loss (two: a few random masks may agree by chance)."""
    for _ in range(2):
        again, problem = calls.call(model, case.X, case.y)
        if problem or calls.loss_problem(again, names) or \
                float(np.asarray(again[0], np.float64)) != float(np.asarray(first[0], np.float64)):
            return False
    return True


def l2_hint(gap: float, penalty: float, l2: float) -> str:
    """When the loss is off by a multiple of reg ΣW² (a half, a whole, …): the L2 factor it
    suggests, and how to declare it."""
    if penalty <= 0:
        return ""
    k = round(2 * gap / penalty) / 2
    if k == 0 or abs(gap - k * penalty) > 1e-9 * max(1.0, abs(gap)):
        return ""
    return (f"the loss differs from the reference's by {k:g} · reg · ΣW²: its L2 term looks "
            f"like {l2 + k:g} · reg · ΣW²; if that is meant, declare it with --l2 {l2 + k:g} "
            f"(check_model(..., l2={l2 + k:g}))")


def _set_running_stats(bn_params: list[Any], kinds: Sequence[str], case: Case) -> None:
    """Drawn running statistics for each batch norm, which test mode then reads."""
    rng = np.random.default_rng(case.seed + 5)
    k = 0
    for kind in kinds:
        k += kind in compose.WEIGHTED
        if kind in ("batchnorm", "spatial_batchnorm") and k - 1 < len(bn_params) and \
                isinstance(bn_params[k - 1], dict):
            width = case.values[f"gamma{k}"].shape[0]
            bn_params[k - 1]["running_mean"] = 0.5 * rng.standard_normal(width)
            bn_params[k - 1]["running_var"] = rng.uniform(0.5, 2.0, width)


def _changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    for name, value in before["params"].items():
        if not np.array_equal(value, after["params"].get(name), equal_nan=True):
            return f"params[{name!r}]"
    for i, (b, a) in enumerate(zip(before["bn_params"] or [], after["bn_params"] or [],
                                   strict=False)):
        for stat in ("running_mean", "running_var"):
            if isinstance(b, dict) and isinstance(a, dict) and stat in b and not \
                    np.array_equal(np.asarray(b[stat]), np.asarray(a.get(stat))):
                return f"bn_params[{i}][{stat!r}]"
    return ""


def _course_masks(case: Case, drops: int) -> list[np.ndarray]:
    """The course's masks where no dropout_forward call could be seen: each dropout layer
    seeds numpy with dropout_param's seed and keeps rand < p."""
    widths = [v.shape[-1] for n, v in case.values.items()
              if n.startswith("b") and not n.startswith("beta")]
    keep = case.design.keep
    return [(np.random.RandomState(case.design.seed).rand(case.X.shape[0], w) < keep) / keep
            for w in widths[:drops]]


def _scores(model: Any, case: Case, bn_params: list[Any]) -> ModelOutcome | None:
    kinds = case.design.kinds
    got, problem = calls.call(model, case.X, None)
    problem = problem or calls.scores_problem(got, case.X.shape[0])
    if problem:
        return _fail(problem, "scores", "scores")
    steps = compose.steps(kinds, case.values, mode="test", bn_params=bn_params, keep=1.0,
                          masks=[])
    want = reference_scores(steps, "numpy", case.X, case.values)
    got = np.asarray(got, np.float64)
    if got.shape != want.shape:
        return _fail(f"loss(X) returned scores of shape {got.shape}, but the declared "
                     f"composition ({compose.describe(kinds)}) gives {want.shape}: the model "
                     "composes its layers differently from the declared composition",
                     "scores", "scores", True)
    floor = truths.scores_floor(steps, case.X, case.values, want, case.seed)
    q = judge([Entries("scores", None, got, want, _rtol("torch"), floor=floor)])[0]
    if q.verdict in (FAIL, ERROR):
        at = list(q.worst or ())
        g, w = distinct(q.impl_value or 0.0, q.oracle_value or 0.0)
        return _fail(f"scores{at} = {g}, but the declared composition "
                     f"({compose.describe(kinds)}) gives {w}: the model composes its layers "
                     "differently from the declared composition", "scores", "scores", True,
                     results={"reference": {"scores": q}})
    return None


def _gradients(model: Any, case: Case, steps: list[Any], result: Any, oracles: Sequence[str],
               l2: float) -> ModelOutcome:
    kinds = case.design.kinds
    names = compose.parameter_names(kinds)
    weights, reg = compose.weights(kinds), float(getattr(model, "reg", None) or
                                                 case.design.kwargs.get("reg", 0.0))
    loss, grads = float(np.asarray(result[0], np.float64)), result[1]
    got = {}
    for name in names:
        try:
            got[name] = np.asarray(grads[name], dtype=np.float64)
        except (TypeError, ValueError):
            return _fail(f"grads[{name!r}] is not an array of numbers", "gradient", name)
        if got[name].shape != case.values[name].shape:
            return _fail(f"grads[{name!r}] has shape {got[name].shape}, but should be "
                         f"{case.values[name].shape} (the shape of params[{name!r}])",
                         "gradient", name)
    found: dict[str, tuple[float, dict[str, np.ndarray], dict[str, Any]]] = {}
    for oracle in oracles:
        if oracle == "fd":
            def own(values: dict[str, np.ndarray]) -> float:
                calls.set_values(model, values)
                with np.errstate(all="ignore"):
                    return float(model.loss(case.X.copy(), case.y.copy())[0])
            fd = truths.fd(own, case.values, names)
            calls.set_values(model, case.values)
            if fd is None:
                return _fail("loss(X, y) raised or gave a non-finite loss with a parameter "
                             "moved by a finite-difference step", "fd", "loss")
            found["fd"] = (loss, *fd)
        else:
            value, truth = truths.reference(steps, oracle, case.X, case.y, case.values,
                                            weights, reg, l2)
            found[oracle] = (value, truth, {})
    frameworks = [o for o in found if o != "fd"]
    floors = truths.floors(steps, frameworks[0], case.X, case.y, case.values, weights, reg, l2,
                           *found[frameworks[0]][:2], case.seed) if frameworks else {}
    eps = float(np.finfo(np.float64).eps)
    items, spans = [], []
    for oracle, (value, truth, bars) in found.items():
        if oracle != "fd":
            items.append(Entries("loss", None, loss, value, _rtol(oracle),
                                 floor=floors["loss"]))
            spans.append((oracle, "loss"))
        for name in names:
            floor = floors.get(name, tolerances.FLOOR_FACTOR * eps * (np.abs(truth[name]) + 1e-3))
            items.append(Entries(name, None, got[name], truth[name], _rtol(oracle), None,
                                 bars.get(name, 0.0), floor))
            spans.append((oracle, name))
    results: dict[str, dict[str, QuantityResult]] = {}
    for (oracle, name), q in zip(spans, judge(items), strict=True):
        results.setdefault(oracle, {})[name] = q
    outcome = ModelOutcome(PASS, results=results)
    outcome.not_judged = sum(q.not_judged for r in results.values() for q in r.values())
    outcome.unresolved = sum(q.unresolved for r in results.values() for q in r.values())
    for name in ["loss", *names]:
        failing = [(o, r[name]) for o, r in results.items()
                   if name in r and r[name].verdict in (FAIL, ERROR)]
        if failing:
            oracle, q = failing[0]
            where = f"{name}[{', '.join(map(str, q.worst))}]" if q.worst else name
            g, w = distinct(q.impl_value or 0.0, q.oracle_value or 0.0)
            outcome.verdict, outcome.first_wrong = FAIL, name
            outcome.stage = "loss" if name == "loss" else "gradient"
            outcome.message = (f"{where} = {g}, but {oracle} says {w} (float64, err "
                               f"{q.err:.2g} > rtol {_rtol(oracle):.0e})")
            if name == "loss":
                penalty = reg * sum(float(np.sum(case.values[w] ** 2)) for w in weights)
                outcome.hint = l2_hint(loss - found[oracle][0], penalty, l2)
            else:
                truth_by = {o: t for o, (_, t, _) in found.items()}
                outcome.values = side_by_side(name, q, got[name], truth_by)
            break
    return outcome
