"""A wrong forward pass seen through the implementation's own loss.

An implementation whose forward pass computes something else than the network (a sigmoid on
an identity output, x read transposed, a logit halved) usually differentiates what it computes
correctly: its gradients are the derivatives of its own E, and E is not the network's. Where E
and the gradients are both wrong and the diagnosis found no other kind that explains them from
E, the implementation's own E is differenced along its own gradient g: if the slope is |g|
(Richardson-extrapolated central differences, with the two steps' difference as the error
bar), while the truth's gradient predicts another slope, the backward pass is consistent with
a forward pass that is not the network's, and the kind is ``forward``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from deltacheck.campaign.planning import Config
from deltacheck.judging.calling import call
from deltacheck.judging.check import CaseResult

# kinds that already explain a wrong E with wrong gradients, or say it cannot be read
SETTLED = ("forward", "factor", "loss_value", "stateful", "nondeterministic", "aliasing",
           "nonfinite", "overflow", "raised", "shape")
PARAMS = (("grad_weights", "weights"), ("grad_biases", "biases"))


def _direction(result: CaseResult) -> tuple[list[tuple[str, int, np.ndarray]], float] | None:
    """The implementation's gradient over the parameters it provides, as (name, layer, g),
    and its norm; None where it is zero or not finite."""
    impl = result.impl_values
    assert impl is not None
    parts = [(param, l, np.asarray(g, dtype=float))
             for q, param in PARAMS if q in result.seen
             for l, g in enumerate(impl.quantity(q))]
    with np.errstate(all="ignore"):  # a gradient of 1e300 has no length here: None below
        norm = float(np.sqrt(sum(float((g * g).sum()) for _, _, g in parts)))
    if not parts or not np.isfinite(norm) or norm == 0:
        return None
    return parts, norm


def _loss_at(config: Config, result: CaseResult, parts: list[tuple[str, int, np.ndarray]],
             step: float) -> float | None:
    """The implementation's own E with every parameter moved by ``step`` along g/|g|."""
    case = result.case
    moved: dict[str, list[np.ndarray]] = {"weights": list(case.weights),
                                          "biases": list(case.biases)}
    for param, l, g in parts:
        moved[param][l] = moved[param][l] + step * g
    got, _, _ = call(replace(case, weights=tuple(moved["weights"]),
                             biases=tuple(moved["biases"])),
                     config.impl, config.conventions, timeout=config.case_timeout)
    if got is None or not np.isfinite(got.loss):
        return None
    return float(got.loss)


def slope_along_own_gradient(config: Config, result: CaseResult) -> tuple[float, float,
                                                                           float] | None:
    """(the slope of the implementation's E along g/|g|, its error bar, |g|), or None."""
    found = _direction(result)
    if found is None:
        return None
    parts, norm = found
    parts = [(p, l, g / norm) for p, l, g in parts]
    theta = max([1.0] + [float(np.abs(w).max(initial=0.0))
                         for w in (*result.case.weights, *result.case.biases)])
    h = 1e-4 * theta
    losses = [_loss_at(config, result, parts, s * h) for s in (1.0, -1.0, 0.5, -0.5)]
    if any(e is None for e in losses):
        return None
    e1, e2, e3, e4 = (float(e) for e in losses)  # type: ignore[arg-type]
    wide, narrow = (e1 - e2) / (2 * h), (e3 - e4) / h
    rounding = 64 * np.finfo(float).eps * max(abs(e1), abs(e2), abs(e3), abs(e4)) / h
    return (4 * narrow - wide) / 3, abs(narrow - wide) + rounding, norm


def forward_slip(config: Config, result: CaseResult) -> CaseResult:
    """``result`` with the kind ``forward`` where its own E explains its gradients (above)."""
    d = result.diagnosis or {}
    first = d.get("first_wrong") or {}
    if first.get("q") != "loss" or d.get("kind") in SETTLED or result.case.dtype != "float64" \
            or result.impl_values is None or not result.oracle_values or "loss" not in result.seen:
        return result
    measured = slope_along_own_gradient(config, result)
    if measured is None:
        return result
    slope, bar, norm = measured
    truth = next(iter(result.oracle_values.values()))
    predicted = sum(float((np.asarray(t, float) * np.asarray(g, float)).sum()) / norm
                    for q, _ in PARAMS if q in result.seen
                    for t, g in zip(truth.quantity(q), result.impl_values.quantity(q),
                                    strict=True))
    allowed = bar + 1e-6 * norm
    if not (abs(slope - norm) <= allowed < abs(predicted - norm) / 10):
        return result
    detail = (f"the gradients are the derivatives of the implementation's own E (along them "
              f"its E changes at {slope:.6g} per unit step, their length is {norm:.6g}; the "
              f"network's E would change at {predicted:.6g}), and that E is not the "
              f"network's: the forward pass computes something else than the network (read "
              f"from the values alone, it looked like {d.get('kind')})")
    result.diagnosis = {**d, "kind": "forward", "detail": detail}
    return result

