"""The hidden δ step, δ_j = h'(a_j) Σ_k w_kj δ_k: the slips tried there (h' at z, a missing
or borrowed h', h for h', a transposed or wrong W), and the local check of the recurrence."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deltacheck.core.numbers import distinct
from deltacheck.diagnosis.evidence import (
    Evidence,
    fits,
    slope_with_bar,
)
from deltacheck.diagnosis.shapes import generic, rows_wrong, wrong_entries
from deltacheck.judging.records import json_number

# h'(a) written for the output z = h(a): the slip is to feed it a instead of z.
IN_TERMS_OF_Z: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "tanh": ("1 − z²", lambda u: 1.0 - u * u),
    "sigmoid": ("z (1 − z)", lambda u: u * (1.0 - u)),
    "softplus": ("1 − e^(−z)", lambda u: -np.expm1(-u)),
    "elu": ("z + 1 for z ≤ 0", lambda u: np.where(u > 0, 1.0, u + 1.0)),
}


Candidate = tuple[str, str, str, np.ndarray, np.ndarray]


def hidden_candidates(ev: Evidence, l: int) -> list[Candidate]:
    """(kind, detail, short label, δ[l] it would give, that value's own error bar) for each
    slip in one δ step; a slope from central differences brings its bar times |Σ w δ|."""
    act, a, z = ev.net.acts[l], ev.net.a[l], ev.net.z[l + 1]
    P, _, _ = ev.delta_step(l)
    head = f"{act.name} (layer {l})"
    h = "activation_derivative"
    zero = np.zeros(P.shape)

    def through(other: Any, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g, bar = slope_with_bar(other, at)
        return g * P, bar * np.abs(P)

    with np.errstate(all="ignore"):
        cands: list[Candidate] = [
            (h, f"h' of {head} is evaluated at z = h(a) instead of at a", "h'(z)",
             *through(act, z)),
            (h, f"h'(a) of {head} is missing from δ = h'(a) Σ w δ", "no h'", P, zero),
            (h, f"h(a) of {head} is used in place of h'(a)", "h(a) for h'", z * P, zero)]
        if act.name in IN_TERMS_OF_Z:
            formula, g = IN_TERMS_OF_Z[act.name]
            cands.append((h, f"h' of {head} is computed as {formula} from a instead of "
                          f"from z = h(a)", f"{formula} of a", g(a) * P, zero))
        for other in ev.registry.values():
            if other.name != act.name:
                cands.append((h, f"{head} uses {other.name}'s h' instead of its own",
                              f"{other.name}'s h'", *through(other, a)))
        W, d = ev.net.W[l + 1], ev.impl.deltas[l + 1]
        if W.shape[0] == W.shape[1]:
            cands.append(("transpose", f"δ[{l + 1}] is propagated to layer {l} through "
                          f"W[{l + 1}]ᵀ instead of W[{l + 1}]", f"W[{l + 1}]ᵀ",
                          ev.slopes[l] * (d @ W.T), ev.slope_bars[l] * np.abs(d @ W.T)))
        elif W.size > 1:
            cands.append(("transpose", f"δ[{l + 1}] is propagated to layer {l} through "
                          f"W[{l + 1}]ᵀ reshaped to W's shape instead of W[{l + 1}]",
                          "reshaped W", ev.slopes[l] * (d @ W.T.reshape(W.shape)),
                          ev.slope_bars[l] * np.abs(d @ W.T.reshape(W.shape))))
        for k, Wk in enumerate(ev.net.W):
            if k != l + 1 and Wk.shape == W.shape:
                cands.append(("transpose", f"δ[{l + 1}] is propagated to layer {l} "
                              f"through W[{k}] instead of W[{l + 1}]", f"W[{k}]",
                              ev.slopes[l] * (d @ Wk), ev.slope_bars[l] * np.abs(d @ Wk)))
    return cands


def hidden_kind(ev: Evidence, l: int) -> tuple[str, str]:
    x = ev.impl.deltas[l]
    _, xhat, tol = ev.delta_step(l)
    mask = ev.judged("deltas", l)
    base = tol  # the comparison's allowance carried through the step
    for kind, detail, _, cand, bar in hidden_candidates(ev, l):
        if fits(x, cand, ev.tol_with_slack(base + bar, cand), mask):
            return kind, detail
    tol = ev.tol_with_slack(tol, xhat)
    found = generic(ev, x, xhat, tol, mask, f"δ[{l}] (from {ev.own_delta(l + 1)})",
                    hidden=True)
    if found:
        kind, detail = found
        if kind == "factor":
            detail = f"layer {l} ({ev.net.acts[l].name}): " + detail
        return kind, detail
    return (one_side(ev, l, x, xhat, tol, mask)
            or rows_wrong(ev, x, xhat, tol, mask)
            or implied_slope(ev, l, x, tol, mask)
            or ("unknown", f"layer {l} ({ev.net.acts[l].name}): δ[{l}] does not follow "
                           f"from {ev.own_delta(l + 1)} by h'(a) Σ w δ, and "
                           f"no single slip in h' or W explains it"))


def one_side(ev: Evidence, l: int, x: np.ndarray, xhat: np.ndarray, tol: np.ndarray,
             mask: np.ndarray) -> tuple[str, str] | None:
    """Wrong only on one side of a = 0 and right on the other: one branch of h' is wrong."""
    wrong = wrong_entries(ev, x, xhat, tol, mask)
    a = ev.net.a[l]
    for side, text in ((a > 0, "a > 0"), (a <= 0, "a ≤ 0")):
        if wrong.any() and not (wrong & ~side).any() and (mask & ~side & ~wrong).any():
            return "activation_derivative", (
                f"h' of {ev.net.acts[l].name} (layer {l}) is wrong only for {text} "
                f"({slope_example(ev, l, x, wrong)}), right on the other side")
    return None


def implied_slope(ev: Evidence, l: int, x: np.ndarray, tol: np.ndarray, mask: np.ndarray
                  ) -> tuple[str, str] | None:
    """x / Σ w δ has the sign of h'(a) wherever x is wrong: a wrong h', not a wrong W."""
    P, xhat, _ = ev.delta_step(l)
    wrong = wrong_entries(ev, x, xhat, tol, mask)
    with np.errstate(all="ignore"):
        implied = x / P
    g = ev.slopes[l]
    usable = wrong & (P != 0) & (g != 0)
    if not usable.any() or not (np.sign(implied[usable]) == np.sign(g[usable])).all():
        return None
    return "activation_derivative", (f"h' of {ev.net.acts[l].name} (layer {l}) is wrong "
                                     f"({slope_example(ev, l, x, wrong)})")


def slope_example(ev: Evidence, l: int, x: np.ndarray, wrong: np.ndarray) -> str:
    """At the worst wrong entry: a, h'(a) and the implementation's implied h'."""
    P, xhat, _ = ev.delta_step(l)
    n, j = np.unravel_index(int(np.argmax(np.where(wrong, np.abs(x - xhat), -1))), x.shape)
    with np.errstate(all="ignore"):
        implied = x[n, j] / P[n, j]
    shown, true = distinct(float(implied), float(ev.slopes[l][n, j]), least=6)
    return f"at a = {ev.net.a[l][n, j]:.4g} the implied h' is {shown}, h'(a) is {true}"


def recurrence(ev: Evidence, l: int) -> dict[str, Any]:
    """The local check of δ[l] from the implementation's own δ[l+1], with the true h'(a)."""
    x = ev.impl.deltas[l]
    P, xhat, tol = ev.delta_step(l)
    mask = ev.judged("deltas", l)
    tol = ev.tol_with_slack(tol, xhat)
    ok = fits(x, xhat, tol, mask)
    scale = float(np.abs(xhat[mask]).max(initial=0.0))
    with np.errstate(all="ignore"):
        err = float(np.abs(x - xhat)[mask].max(initial=0.0)) / scale if scale else (
            0.0 if not np.any(x[mask]) else float("inf"))
        implied = x / P
        usable = mask & (np.abs(P) > 1e-6 * np.abs(P).max(initial=0.0)) & (
            np.abs(ev.slopes[l]) > 1e-12)
        ratios = (implied / ev.slopes[l])[usable]
    explained = ""
    if not ok:
        base = ev.delta_step(l)[2]
        for _, _, short, cand, bar in hidden_candidates(ev, l):
            if fits(x, cand, ev.tol_with_slack(base + bar, cand), mask):
                explained = short
                break
    return {"recurrence_ok": ok, "recurrence_err": json_number(err),
            "implied_over_true": json_number(np.median(ratios)) if ratios.size else None,
            "explained_by": explained}
