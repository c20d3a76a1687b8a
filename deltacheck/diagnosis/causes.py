"""The causes a first wrong quantity can have: each classic slip of its step, tried in turn.

Each step's candidates are the values the implementation would return with one slip (h' at
z, a missing h', another activation's h', a transposed or wrong W, the logits for y, a
instead of z, a subset of the samples, a weight decay, a constant factor, a flipped sign);
the first that reproduces the implementation's value within the comparison's own allowance,
carried through the step, names the kind. Kinds that hold across a whole case (nan and inf,
overflow, float32 rounding in a float64 run, a kink) are checked before any step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deltacheck.diagnosis.evidence import (
    EPS64,
    OUTPUT_NAME,
    Evidence,
    fits,
    float32_numbers,
)
from deltacheck.diagnosis.hidden import recurrence
from deltacheck.diagnosis.shapes import targets_nudged
from deltacheck.diagnosis.steps import classify

# Errors at or below this share of a quantity's scale, in a float64 run, are rounding of a
# narrower dtype (float32's ε is 1.2e-7; sums of a few dozen terms stay within ~1e3 ε).
PRECISION_SHARE = 2.0 ** -13
PRECISION_LOW = float(np.finfo(np.float32).eps) / 16  # below this, not float32 rounding
KINK_REACH = 1e-3  # |a − kink| within this (relative to max(1, |kink|)) counts as near a kink


def kind_of(ev: Evidence, q: str, l: int | None) -> tuple[str, str]:
    """The kind and detail of a case whose first wrong quantity is (q, l)."""
    if q in ("grad_weights", "grad_biases") and l is not None and l in ev.recovered:
        found = recovered_kind(ev, l)
        if found:
            return found
    nudged = None
    if q == "output_delta":  # before precision: a nudge of 1e-7 looks like float32 rounding
        x, xhat = ev.impl.deltas[-1], ev.net.y - ev.net.t
        mask = ev.judged("deltas", ev.L - 1)
        nudged = targets_nudged(ev,
            x, xhat, ev.allowed("deltas", ev.L - 1), mask)
    return (nonfinite_kind(ev) or nudged or precision_kind(ev)
            or near_kink_kind(ev, q, l) or classify(ev, q, l))


def recovered_kind(ev: Evidence, l: int) -> tuple[str, str] | None:
    """A δ the implementation does not provide, recovered from its ∂W or ∂b and wrong: the δ
    step is then where the error starts, and its slips are tried on the recovered δ."""
    x, y = ev.impl.deltas[l], ev.truth.deltas[l]
    with np.errstate(all="ignore"):
        wrong = (~(np.abs(x - y) <= ev.allowed("deltas", l)) & ev.judged("deltas", l)) \
            | ~np.isfinite(x)
    if not wrong.any():
        return None
    q = "output_delta" if l == ev.L - 1 else "hidden_delta"
    kind, detail = (nonfinite_kind(ev) or near_kink_kind(ev, q, l) or classify(ev, q, l))
    return kind, f"δ[{l}] is not provided, but {ev.recovered[l]} gives it, and it is wrong: " \
                 f"{detail}"


def nonfinite_kind(ev: Evidence) -> tuple[str, str] | None:
    """nan or inf where the truth is finite; overflow when |a| is past exp's range."""
    nonfinite = not np.isfinite(ev.impl.loss)
    for key in ("deltas", "grad_weights", "grad_biases"):
        nonfinite |= not all(np.isfinite(v).all() for v in ev.impl.quantity(key))
    # e^a overflows past ln(max) (709.8 in float64, 88.7 in float32); a sum of up to 16
    # such terms a little earlier.
    big = float(np.log(np.finfo(ev.case.dtype).max)) - np.log(16.0)
    reach = np.max([np.abs(a).max(axis=1) for a in ev.net.a], axis=0)
    if nonfinite and (reach > big).any():
        return "overflow", (f"nan or inf where the truth is finite, in a case whose "
                            f"pre-activations reach |a| = {reach.max():.4g}, past exp's "
                            f"range in {ev.case.dtype} (e^a overflows beyond "
                            f"{big + np.log(16.0):.1f}): compute h, y and E in a stable "
                            f"form (logaddexp, a max-shifted softmax)")
    if nonfinite:
        where = [f"δ[{l}]" for l in range(ev.L)
                 if not np.isfinite(ev.impl.deltas[l]).all()]
        where += ["E"] if not np.isfinite(ev.impl.loss) else []
        return "nonfinite", (f"the implementation returns nan or inf "
                             f"({', '.join(where) or 'in ∂W or ∂b'}) where the truth is "
                             f"finite; the largest |a| is {reach.max():.3g}")
    return None


def precision_kind(ev: Evidence) -> tuple[str, str] | None:
    """Every error within float32's resolution of its quantity's scale, in a float64 run, and
    positive evidence of float32 arithmetic: the first wrong values are float32 numbers, or, in
    a hidden δ, the h' they imply are, and more than one of them (one is a float32 constant)."""
    if ev.case.dtype != "float64":
        return None
    share = 0.0
    for q, l in ev.failing():
        x, y = ev.values(q, l)
        scale = float(np.abs(y).max(initial=0.0))
        if not scale > 0:
            return None
        share = max(share, float(np.abs(x - y).max()) / scale)
    if not (PRECISION_LOW <= share <= PRECISION_SHARE):
        return None
    evidence = float32_evidence(ev, *ev.failing()[0])
    if not evidence:
        return None
    eps32 = float(np.finfo(np.float32).eps)
    return "precision", (f"errors up to {share:.2g} of each quantity's scale "
                         f"(≈ {share / eps32:.2g} float32 ε) in a float64 run; {evidence}: part "
                         f"of the computation runs in float32")


def float32_evidence(ev: Evidence, q: str, l: int | None) -> str:
    """Why the wrong values of (q, l) come from float32 arithmetic, or "" when nothing says so."""
    x, _ = ev.values(q, l)
    x = np.asarray(x, dtype=np.float64)
    wrong = ev.bad(q, l) if l is not None else np.array(True)
    if l is None:
        return "E is a float32 number" if float32_numbers(x) else ""
    values = x[wrong]
    if values.size and float32_numbers(values):  # a float64 result is one by chance 1 in 2²⁹
        return "the first wrong values are float32 numbers"
    if q == "deltas" and l < ev.L - 1:
        P, _, _ = ev.delta_step(l)
        with np.errstate(all="ignore"):
            # where Σ w δ is not itself the result of a cancellation
            implied = (x / P)[wrong & (np.abs(P) > 1e-3 * np.abs(P).max(initial=0.0))]
            near = np.abs(implied - implied.astype(np.float32).astype(np.float64))
        if implied.size and np.unique(implied.astype(np.float32)).size > 1 and bool(
                np.all(near <= 64 * EPS64 * np.abs(implied))):
            return "the h' they imply is a float32 number at every wrong entry"
    return ""


def near_kink_kind(ev: Evidence, q: str, l: int | None) -> tuple[str, str] | None:
    if q != "hidden_delta" or l is None:
        return None
    x = ev.impl.deltas[l]
    _, xhat, tol = ev.delta_step(l)
    tol = ev.tol_with_slack(tol, xhat)
    with np.errstate(all="ignore"):
        wrong = ~(np.abs(x - xhat) <= tol) & ev.judged("deltas", l)
    if not wrong.any():
        return None
    act, a = ev.net.acts[l], ev.net.a[l]
    near = np.zeros(a.shape, dtype=bool)
    for k in getattr(act, "kinks", ()) or ():
        near |= np.abs(a - k) <= KINK_REACH * max(1.0, abs(k))
    if not near.any() or (wrong & ~near).any():
        return None
    worst = np.unravel_index(int(np.argmax(np.where(wrong, np.abs(x - xhat), -1))), x.shape)
    return "near_kink", (f"layer {l} ({act.name}): wrong only where a sits near the kink "
                         f"(a = {a[worst]:.3g} at δ[{l}][{worst[0]}, {worst[1]}]), just "
                         f"outside the entries left unjudged")


def layer_rows(ev: Evidence) -> list[dict[str, Any]]:
    rows = []
    for l in range(ev.L):
        hidden = l < ev.L - 1
        row: dict[str, Any] = {
            "layer": l, "role": "hidden" if hidden else "output",
            "activation": ev.net.acts[l].name if hidden else OUTPUT_NAME[ev.net.loss],
            "delta": str(ev.verdict("deltas", l)),
            "grad_weights": str(ev.verdict("grad_weights", l)),
            "grad_biases": str(ev.verdict("grad_biases", l))}
        if hidden:
            row.update(recurrence(ev, l))
        row["worst"] = ev.worst_entry(l)
        xw, tw = ev.weight_step(l)
        xb, tb = ev.bias_step(l)
        row["grad_weights_from_own_delta"] = fits(
            ev.impl.grad_weights[l], xw, ev.tol_with_slack(tw, xw),
            ev.judged("grad_weights", l))
        row["grad_biases_from_own_delta"] = fits(
            ev.impl.grad_biases[l], xb, ev.tol_with_slack(tb, xb),
            ev.judged("grad_biases", l))
        rows.append(row)
    return rows


class Causes(Evidence):
    """One failing case's evidence, with the kind of its first wrong quantity and the table of
    every layer's local checks (the slips each step tries are in steps, hidden and shapes)."""

    def kind_of(self, q: str, l: int | None) -> tuple[str, str]:
        """The kind and detail of a case whose first wrong quantity is (q, l)."""
        return kind_of(self, q, l)

    def layer_rows(self) -> list[dict[str, Any]]:
        """Per layer: verdicts, the recurrence check and whether ∂W, ∂b follow from δ."""
        return layer_rows(self)
