"""A wrong forward pass: the implementation's E and output δ agree with each other, for an
output y′ that is not the case's y.

For the canonical pairs δ = y − t, so the output the implementation's δ implies is
y′ = δ + t, and a forward slip shows as E(y′, t) = the implementation's E with y′ ≠ y. The
declared conventions need no formula of their own: the implementation's values are read back
into the protocol's (a mean times N, labels as one-hot rows, W as (out, in)) before any
diagnosis, so the same test holds for them. Where δ is not provided, the output δ of a single
sample is its ∂b. The non-canonical pairs (mse with a sigmoid or tanh output) put g′(a′) in δ,
whose a′ cannot be read back: they are not tested.
"""

from __future__ import annotations

import numpy as np

from deltacheck.diagnosis.evidence import EPS64, Evidence

CANONICAL = ("mse", "bce", "ce")


def implied_output(ev: Evidence) -> tuple[np.ndarray, np.ndarray, str] | None:
    """y′ = δ + t from the implementation's output δ, its allowance, and where δ came from."""
    l = ev.L - 1
    if "deltas" in ev.seen:
        return ev.impl.deltas[l] + ev.net.t, ev.allowed("deltas", l), "its output δ"
    if ev.N == 1 and "grad_biases" in ev.seen:
        return (ev.impl.grad_biases[l][None, :] + ev.net.t, ev.allowed("grad_biases", l)[None, :],
                f"its ∂b[{l}] (one sample: the output δ)")
    return None


def loss_of(loss: str, y: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    """E(y, t) summed, and |∂E/∂y| summed against a unit error in every y (for the bar)."""
    with np.errstate(all="ignore"):
        if loss == "mse":
            return float(0.5 * ((y - t) ** 2).sum()), float(np.abs(y - t).sum())
        if loss == "bce":
            terms = t * np.log(y) + (1 - t) * np.log1p(-y)
            return -float(terms.sum()), float(np.abs(t / y - (1 - t) / (1 - y)).sum())
        return -float((t * np.log(y)).sum()), float(np.abs(t / y).sum())


def forward_kind(ev: Evidence) -> tuple[str, str] | None:
    """``forward`` when E equals E(y′, t) for the y′ the implementation's δ implies, y′ ≠ y."""
    if ev.net.loss not in CANONICAL or "loss" not in ev.seen:
        return None
    found = implied_output(ev)
    if found is None:
        return None
    y2, allowed, source = found
    if not np.all(np.isfinite(y2)):
        return None
    if ev.net.loss == "bce" and not bool(np.all((y2 > 0) & (y2 < 1))):
        return None
    if ev.net.loss == "ce" and not (bool(np.all(y2 >= 0)) and bool(np.all(
            np.abs(y2.sum(axis=1) - 1) <= allowed.sum(axis=1) + 64 * EPS64 * y2.shape[1]))):
        return None
    gap = np.abs(y2 - ev.net.y)
    if not bool(np.any(gap > allowed)):  # y′ is y: the output δ is right
        return None
    e2, slope_sum = loss_of(ev.net.loss, y2, ev.net.t)
    e = float(ev.impl.loss)
    bar = float(np.asarray(ev.allowed("loss", None))) + slope_sum * float(allowed.max()) \
        + 64 * EPS64 * max(abs(e), abs(e2))
    if not (np.isfinite(e2) and abs(e2 - e) <= bar):
        return None
    return "forward", (f"E and {source} agree with each other for an output y′ = δ + t that "
                       f"is not the network's y (|y′ − y| up to {float(gap.max()):.3g}): the "
                       f"forward pass computes something else than the network")
