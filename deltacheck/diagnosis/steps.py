"""The other steps' slips, each tried in turn: the loss E, the output δ (the wrong output
function, g'(a) applied again, the logits for y), ∂W = δᵀ z and ∂b = Σ δ; and ``classify``,
which sends a first wrong quantity to its step."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deltacheck.core.numbers import distinct
from deltacheck.core.verdicts import FAIL
from deltacheck.diagnosis.evidence import (
    EPS64,
    OUTPUT_NAME,
    Evidence,
    fits,
    fraction_text,
    output_of,
    ratio,
    sample_losses,
    samples_text,
    simple_ratio,
    subset,
)
from deltacheck.diagnosis.forward import forward_kind
from deltacheck.diagnosis.hidden import hidden_kind
from deltacheck.diagnosis.shapes import clipped, generic, rows_wrong, targets_nudged
from deltacheck.judging.records import first_wrong, walk_order


def loss_kind(ev: Evidence) -> tuple[str, str]:
    x, y = float(ev.impl.loss), float(ev.truth.loss)
    grads_right = all(ev.verdict(q, l) != FAIL for q, l in walk_order(ev.L)[1:])
    found = None if grads_right else forward_kind(ev)
    if found:
        return found
    if not grads_right:
        r = x / y if y else float("nan")
        if np.isfinite(r) and all(scaled_by(ev, q, l, r) for q, l in ev.failing()[1:]):
            return "factor", (f"E and every gradient are {fraction_text(r, ev.N)} times "
                              f"what they should be")
        kind, detail = classify(ev, *first_of_rest(ev))
        xs, ys = distinct(x, y, least=6)
        return kind, f"{detail}; E is wrong too ({xs} instead of {ys})"
    per = sample_losses(ev.net.loss, ev.net.a[-1], ev.net.t)
    tol = np.array(ev.allowed("loss", None)) + 64 * EPS64 * float(np.abs(per).sum())
    keep = subset(np.array(x), per, tol, np.array(True))
    if keep is not None:
        return "loss_value", (f"E sums only {samples_text(keep)} of {ev.N}; the gradients "
                              f"are right")
    if y != 0 and np.isfinite(x / y) and simple_ratio(x / y, ev.N):
        return "loss_value", (f"E is {fraction_text(x / y, ev.N)} times what it should be; "
                              f"the gradients are right")
    xs, ys = distinct(x, y, least=6)
    return "loss_value", (f"E = {xs}, but should be {ys} (off by {x - y:.3g}); the "
                          f"gradients are right")


def scaled_by(ev: Evidence, q: str, l: int | None, r: float) -> bool:
    """Whether the implementation's (q, l) is r times the truth's."""
    x, y = ev.values(q, l)
    found = ratio(x, y, ev.tol_with_slack(ev.allowed(q, l), y), ev.judged(q, l))
    return found is not None and abs(found - r) <= 1e-6 * abs(r)


def first_of_rest(ev: Evidence) -> tuple[str, int | None]:
    verdicts = {k: r.verdict for k, r in ev.res.items() if k[0] != "loss"}
    found = first_wrong(verdicts, ev.L)
    assert found is not None
    return found


def output_kind(ev: Evidence) -> tuple[str, str]:
    l = ev.L - 1
    x, y, t, a = ev.impl.deltas[l], ev.net.y, ev.net.t, ev.net.a[l]
    xhat = y - t
    tol = ev.allowed("deltas", l)  # y − t needs no slack: no difference quotient in it
    mask = ev.judged("deltas", l)
    name = OUTPUT_NAME[ev.net.loss]
    cands: list[tuple[str, str, np.ndarray]] = [
        ("output_error", "δ uses the logits a instead of y = g(a): a − t", a - t)]
    if ev.net.loss == "bce":
        cands.append(("output_error", "δ = (y − t) σ'(a): the sigmoid's derivative, which "
                      "the bce pairing cancels, is applied again", xhat * y * (1 - y)))
    if ev.net.loss == "ce":
        cands.append(("output_error", "δ = (y − t) y (1 − y): the softmax's diagonal "
                      "derivative, which the ce pairing cancels, is applied again",
                      xhat * y * (1 - y)))
    for other, g in (("identity", lambda v: v), ("sigmoid", lambda v: output_of("bce", v)),
                     ("softmax", lambda v: output_of("ce", v))):
        if other != name:
            cands.append(("output_error", f"δ = y − t with y = {other}(a), but the "
                          f"{ev.net.loss} output is {name}", g(a) - t))
    cands += [("per_sample", f"δ = y − t with the targets of another sample ({how})",
               y - t[order]) for how, order in _misalignments(ev.N)]
    for kind, detail, cand in cands:
        if fits(x, cand, ev.tol_with_slack(tol, cand), mask):
            return kind, detail
    return (generic(ev, x, xhat, tol, mask, "the output δ")
            or targets_nudged(ev, x, xhat, tol, mask)
            or clipped(ev, x, xhat, tol, mask, "the output δ")
            or rows_wrong(ev, x, xhat, tol, mask)
            or ("output_error", f"the output δ is not y − t for {ev.net.loss} with a "
                                f"{name} output"))


def _misalignments(N: int) -> list[tuple[str, np.ndarray]]:
    """Orders that pair each sample with another: off by one either way, and reversed."""
    if N < 2:
        return []
    n = np.arange(N)
    orders = [("sample n − 1's", np.roll(n, 1)), ("sample n + 1's", np.roll(n, -1)),
              ("in reverse order", n[::-1])]
    seen: list[np.ndarray] = []
    out = []
    for how, order in orders:
        if not any(np.array_equal(order, o) for o in seen):  # N = 2: all three are one swap
            seen.append(order)
            out.append((how, order))
    return out


def weight_kind(ev: Evidence, l: int) -> tuple[str, str]:
    x = ev.impl.grad_weights[l]
    xhat, tol = ev.weight_step(l)
    tol = ev.tol_with_slack(tol, xhat)
    mask = ev.judged("grad_weights", l)
    d = ev.impl.deltas[l]
    cands: list[tuple[str, str, np.ndarray]] = []
    if l >= 1:
        cands.append(("assembly", f"∂W[{l}] uses the pre-activation a[{l - 1}] instead of "
                      f"z[{l}] = h(a[{l - 1}])", d.T @ ev.net.a[l - 1]))
    for k, zk in enumerate(ev.net.z):
        if k != l and zk.shape[1] == ev.net.z[l].shape[1]:
            cands.append(("assembly", f"∂W[{l}] uses layer {k}'s input z[{k}] instead of "
                          f"z[{l}]", d.T @ zk))
    cands += [("per_sample", f"∂W[{l}] pairs each sample's δ with the z of another sample "
               f"({how})", d.T @ ev.net.z[l][order]) for how, order in _misalignments(ev.N)]
    if xhat.shape[0] == xhat.shape[1]:
        cands.append(("transpose", f"∂W[{l}] is transposed (zᵀ δ instead of δᵀ z)",
                      xhat.T))
    elif xhat.size > 1:
        cands.append(("transpose", f"∂W[{l}] is zᵀ δ reshaped to W's shape instead of "
                      f"transposed", xhat.T.reshape(xhat.shape)))
    for kind, detail, cand in cands:
        if fits(x, cand, ev.tol_with_slack(tol, cand), mask):
            return kind, detail
    W = ev.net.W[l]
    lam = float(((x - xhat) * W).sum() / (W * W).sum()) if (W * W).sum() > 0 else 0.0
    if lam != 0 and int(mask.sum()) >= 2 and fits(x, xhat + lam * W, tol, mask):
        return "assembly", f"∂W[{l}] adds {lam:.3g} W[{l}] (a weight decay) to δᵀ z"
    found = generic(ev, x, xhat, tol, mask, f"∂W[{l}] (from {ev.own_delta(l)})")
    if found:
        return found
    keep = subset(x, d[:, :, None] * ev.net.z[l][:, None, :], tol, mask)
    if keep is not None:
        return "per_sample", f"∂W[{l}] sums only {samples_text(keep)} of {ev.N}"
    if "deltas" not in ev.seen and l not in ev.recovered:  # nothing to say it is right
        return "unknown", (f"∂W[{l}] is wrong, and δ[{l}] cannot be seen (not provided, and "
                           f"∂W[{l}], ∂b[{l}] do not determine it here)")
    return "assembly", (f"∂W[{l}] is not δ[{l}]ᵀ z[{l}] of {ev.own_delta(l)}, which is "
                        f"right")


def bias_kind(ev: Evidence, l: int) -> tuple[str, str]:
    x = ev.impl.grad_biases[l]
    xhat, tol = ev.bias_step(l)
    tol = ev.tol_with_slack(tol, xhat)
    mask = ev.judged("grad_biases", l)
    found = generic(ev, x, xhat, tol, mask, f"∂b[{l}] (from {ev.own_delta(l)})")
    if found:
        return found
    keep = subset(x, ev.impl.deltas[l], tol, mask)
    if keep is not None:
        return "per_sample", f"∂b[{l}] sums only {samples_text(keep)} of {ev.N}"
    if not np.any(x[mask]):
        return "assembly", f"∂b[{l}] is zero; it should be Σ_n δ[{l}]"
    if "deltas" not in ev.seen and l not in ev.recovered:  # nothing to say it is right
        return "unknown", (f"∂b[{l}] is wrong, and δ[{l}] cannot be seen (not provided, and "
                           f"∂W[{l}], ∂b[{l}] do not determine it here)")
    return "assembly", (f"∂b[{l}] is not Σ_n δ[{l}] of {ev.own_delta(l)}, which is right")


# The step each first wrong quantity comes from: its slips are tried there.
STEPS: dict[str, Callable[[Evidence, int | None], tuple[str, str]]] = {
    "loss": lambda ev, l: loss_kind(ev),
    "output_delta": lambda ev, l: output_kind(ev),
    "hidden_delta": lambda ev, l: hidden_kind(ev, _layer(l)),
    "grad_weights": lambda ev, l: weight_kind(ev, _layer(l)),
    "grad_biases": lambda ev, l: bias_kind(ev, _layer(l)),
}


def _layer(l: int | None) -> int:
    assert l is not None, "a layer's quantity always has its layer"
    return l


def classify(ev: Evidence, q: str, l: int | None) -> tuple[str, str]:
    """The kind and detail of a bug whose first wrong quantity is (q, l)."""
    return STEPS[q](ev, l)
