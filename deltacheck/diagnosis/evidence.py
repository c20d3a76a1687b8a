"""What a diagnosis reasons from: the case's true forward pass, the truth's values and verdicts,
the implementation's values, and each backprop step recomputed from the implementation's own
inputs to it (its δ[l+1] for δ[l], its δ[l] for ∂W[l] and ∂b[l]).

h'(a) comes from central differences of the registered h, never from a hand-written
derivative, so a wrong dh cannot vouch for itself. Every tolerance is the comparison's own
per-entry allowance ("allowed"), carried through the recomputed step.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from deltacheck.core.gradients import Gradients
from deltacheck.core.verdicts import FAIL, NOT_JUDGED
from deltacheck.diagnosis.recovered import own_delta, recover, unseen_text
from deltacheck.judging.records import json_number, walk_order
from deltacheck.judging.rounding import output_and_slope

OUTPUT_NAME = {"mse": "identity", "bce": "sigmoid", "ce": "softmax", "mse_sigmoid": "sigmoid",
               "mse_tanh": "tanh"}
MAX_SUBSET_BATCH = 8  # per-sample subsets are enumerated up to this batch size
# A value recomputed here (δᵀ z, y − t, a sum of sample losses) carries its own rounding:
# this many ε times its magnitude, entry by entry (never a share of the whole quantity).
RECOMPUTE_EPS = 64.0
EPS64 = float(np.finfo(np.float64).eps)
SLOPE_STEP = 2.0 ** -9  # Richardson's step, relative to max(1, |a|)


def _central(act: Any, a: np.ndarray, step: np.ndarray) -> np.ndarray:
    return (np.asarray(act.h(a + step, np)) - np.asarray(act.h(a - step, np))) / (2 * step)


def slope_with_bar(act: Any, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """h'(a) from central differences of the activation's h (never its hand-written dh),
    Richardson-extrapolated twice, and an error bar for it per entry: how far the last two
    extrapolations differ, plus the rounding that dividing by the step magnifies."""
    a = np.asarray(a, dtype=np.float64)
    step = SLOPE_STEP * np.maximum(1.0, np.abs(a))
    with np.errstate(all="ignore"):
        d1, d2, d3 = (_central(act, a, step / k) for k in (1, 2, 4))
        r1, r2 = (4 * d2 - d1) / 3, (4 * d3 - d2) / 3
        size = np.abs(np.asarray(act.h(a, np), dtype=np.float64)) + np.abs(a * r2)
        bar = np.abs(r2 - r1) + 16 * EPS64 * size / (step / 4)
    return r2, np.where(np.isfinite(bar), bar, np.inf)


def slope(act: Any, a: np.ndarray) -> np.ndarray:
    """h'(a) from central differences of h (see ``slope_with_bar``)."""
    return slope_with_bar(act, a)[0]


def rounding_of(cand: np.ndarray) -> np.ndarray:
    """The rounding a value recomputed here may carry, entry by entry."""
    with np.errstate(all="ignore"):
        out = RECOMPUTE_EPS * EPS64 * np.abs(cand)
    return np.where(np.isfinite(out), out, 0.0)


def output_of(loss: str, a: np.ndarray) -> np.ndarray:
    """y = g(a), the loss's output function (as the rounding floor computes it)."""
    return output_and_slope(loss, a)[0].copy()


def sample_losses(loss: str, a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """E_n of every sample, from the logits (the loss is their sum)."""
    if loss == "mse":
        return 0.5 * ((a - t) ** 2).sum(axis=1)
    if loss in ("mse_sigmoid", "mse_tanh"):
        return 0.5 * ((output_of(loss, a) - t) ** 2).sum(axis=1)
    if loss == "bce":
        return (np.logaddexp(0.0, a) - t * a).sum(axis=1)
    top = a.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(a - top).sum(axis=1))
    return lse - (t * a).sum(axis=1)


@dataclass
class Net:
    """The case's true forward quantities in float64."""

    W: list[np.ndarray]
    a: list[np.ndarray]
    z: list[np.ndarray]
    y: np.ndarray
    t: np.ndarray
    acts: list[Any]
    loss: str


def true_forward(result: Any) -> Net:
    """The case's float64 forward pass: the one judging computed (``result.forward``), or
    computed here from the activations the case was checked with."""
    case = result.case
    acts = [result.registry[name] for name in case.activations]
    fwd = result.forward
    if fwd is not None:
        W, a, z = fwd.signed_W, fwd.a, fwd.z
    else:
        W = [np.asarray(w, dtype=np.float64) for w in case.weights]
        z = [np.asarray(case.x, dtype=np.float64)]
        a = []
        with np.errstate(all="ignore"):
            for l, w in enumerate(W):
                a.append(z[l] @ w.T + np.asarray(case.biases[l], dtype=np.float64))
                if l < len(acts):
                    z.append(np.asarray(acts[l].h(a[l], np), dtype=np.float64))
    with np.errstate(all="ignore"):
        y = output_of(case.loss, a[-1])
    return Net(W=W, a=a, z=z, y=y, t=np.asarray(case.t, dtype=np.float64), acts=acts,
               loss=case.loss)


# --- fitting candidates ----------------------------------------------------------------------

def fits(x: np.ndarray, cand: np.ndarray, tol: np.ndarray, mask: np.ndarray) -> bool:
    """Whether x equals the candidate on every judged entry, within tol."""
    if cand.shape != x.shape:
        return False
    with np.errstate(all="ignore"):
        ok = np.abs(x - cand) <= tol
    return bool(np.all(ok | ~mask))


def ratio(x: np.ndarray, xhat: np.ndarray, tol: np.ndarray, mask: np.ndarray) -> float | None:
    """The constant r with x = r x̂ on every judged entry (r ≠ 1), or None."""
    xs, ys = x[mask], xhat[mask]
    denom = float(ys @ ys)
    if not denom > 0:
        return None
    r = float(xs @ ys) / denom
    if not np.isfinite(r) or r == 0 or abs(r - 1) < 1e-9:
        return None
    return r if fits(x, r * xhat, max(1.0, abs(r)) * tol, mask) else None


def fraction_text(r: float, n_samples: int) -> str:
    """A ratio as the reader would write it: 1/N (N = 4), 2, 1/2, -1, or 1.37."""
    for value, text in ((1 / n_samples, f"1/N (N = {n_samples})"),
                        (n_samples, f"N (N = {n_samples})")):
        if n_samples > 1 and abs(r - value) <= 1e-6 * abs(value):
            return text
    if abs(r - 1) < 1e-5:  # a hair from 1: the digits that say how far
        return f"{r:.12g}"
    f = Fraction(r).limit_denominator(16)
    if f.denominator > 0 and abs(float(f) - r) <= 1e-6 * abs(r):
        return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"
    return f"{r:.6g}"


def simple_ratio(r: float, n_samples: int) -> bool:
    """Whether r is a ratio slips produce: ±N, ±1/N, or ±p/q with q ≤ 4 (2, 1/2, 3/2, ...)."""
    if n_samples > 1 and any(abs(abs(r) - v) <= 1e-6 * v for v in (n_samples, 1 / n_samples)):
        return True
    if abs(r - 1) <= 1e-6:  # no slip at all
        return False
    f = Fraction(abs(r)).limit_denominator(4)
    return 0 < f.numerator <= 16 and abs(float(f) - abs(r)) <= 1e-6 * abs(r)


def samples_text(rows: np.ndarray) -> str:
    idx = [int(i) for i in np.flatnonzero(rows)]
    return ("sample " if len(idx) == 1 else "samples ") + ", ".join(map(str, idx))


def _subsets(n: int) -> list[np.ndarray]:
    """Proper, non-empty subsets of n samples: all of them for a small batch, else the
    shapes that loops get wrong (a prefix, a suffix, all but one, only one)."""
    if n <= MAX_SUBSET_BATCH:  # larger subsets first: "one sample left out" reads best
        chosen = [c for k in range(n - 1, 0, -1) for c in itertools.combinations(range(n), k)]
    else:
        chosen = [tuple(range(k)) for k in range(1, n)] + [tuple(range(k, n)) for k in
                                                           range(1, n)]
        chosen += [tuple(i for i in range(n) if i != j) for j in range(n)]
        chosen += [(j,) for j in range(n)]
    out = []
    for c in chosen:
        keep = np.zeros(n, dtype=bool)
        keep[list(c)] = True
        out.append(keep)
    return out


def subset(x: np.ndarray, terms: np.ndarray, tol: np.ndarray, mask: np.ndarray
           ) -> np.ndarray | None:
    """The samples S (a proper subset) with x = Σ_{n∈S} terms[n], or None."""
    if terms.shape[0] < 2:
        return None
    return next((keep for keep in _subsets(terms.shape[0])
                 if fits(x, terms[keep].sum(axis=0), tol, mask)), None)


def float32_numbers(x: np.ndarray) -> bool:
    """Whether every value is exactly a float32 number (what a float32 computation returns)."""
    with np.errstate(all="ignore"):
        return bool(np.array_equal(x, x.astype(np.float32).astype(np.float64)))


def _seen(impl: Gradients, truth: Gradients, provides: frozenset[str]) -> Gradients:
    """The implementation's values, with the truth standing in for what it does not provide
    (δ of an implementation that returns only gradients): each step is then traced from the
    quantities that feed it, as far as they can be seen."""
    if "deltas" in provides and "loss" in provides:
        return impl
    return dataclasses.replace(impl, loss=impl.loss if "loss" in provides else truth.loss,
                               deltas=impl.deltas if "deltas" in provides else truth.deltas)


class Evidence:
    """One failing case's implementation values, truth and true forward pass."""

    def __init__(self, result: Any, truth_name: str) -> None:
        self.case = result.case
        self.truth: Gradients = result.oracle_values[truth_name]
        self.seen: frozenset[str] = result.seen
        self.impl: Gradients = _seen(result.impl_values, self.truth, result.seen)
        self.res = {(q.quantity, q.layer): q for q in result.oracles[truth_name].quantities}
        self.net = true_forward(result)
        self.registry: dict[str, Any] = result.registry
        self.L = self.case.n_layers
        self.N = self.case.batch
        pairs = [slope_with_bar(act, self.net.a[l]) for l, act in enumerate(self.net.acts)]
        self.slopes = [g for g, _ in pairs]
        self.slope_bars = [bar for _, bar in pairs]
        # δ that the implementation does not provide, recovered from its ∂b (one sample) or ∂W
        self.recovered: dict[int, str] = {}
        if "deltas" not in self.seen:
            self._recover()

    def _recover(self) -> None:
        self.impl = dataclasses.replace(self.impl, deltas=recover(self))

    def own_delta(self, l: int) -> str:
        """How the δ[l] that a step is recomputed from was obtained, in words."""
        return own_delta(self, l)

    def unseen_text(self) -> str:
        """What the walk could not see of the implementation, or ""."""
        return unseen_text(self)

    def verdict(self, q: str, l: int | None) -> str:
        r = self.res.get((q, l))
        return r.verdict if r is not None else NOT_JUDGED

    def values(self, q: str, l: int | None) -> tuple[np.ndarray, np.ndarray]:
        if l is None:
            return np.array(self.impl.loss), np.array(self.truth.loss)
        return self.impl.quantity(q)[l], self.truth.quantity(q)[l]

    def allowed(self, q: str, l: int | None) -> np.ndarray:
        x, _ = self.values(q, l)
        r = self.res.get((q, l))
        return r.allowed if r is not None and r.allowed is not None else np.zeros(x.shape)

    def judged(self, q: str, l: int | None) -> np.ndarray:
        x, _ = self.values(q, l)
        masks = self.truth.unjudged.get(q) if l is not None else None
        return ~masks[l] if masks is not None and l is not None else np.ones(x.shape, dtype=bool)

    def bad(self, q: str, l: int | None) -> np.ndarray:
        x, y = self.values(q, l)
        with np.errstate(all="ignore"):
            ok = np.abs(x - y) <= self.allowed(q, l)
        return (~ok & self.judged(q, l)) | ~np.isfinite(x)

    def tol_with_slack(self, tol: np.ndarray, cand: np.ndarray) -> np.ndarray:
        """The comparison's allowance ``tol`` and the rounding of the candidate recomputed here."""
        return tol + rounding_of(cand)

    # the steps, recomputed from the implementation's own inputs
    def delta_step(self, l: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P = δ[l+1] W[l+1] from the implementation's δ[l+1], and the tolerance of h'(a) P."""
        P = self.impl.deltas[l + 1] @ self.net.W[l + 1]
        spread = self.allowed("deltas", l + 1) @ np.abs(self.net.W[l + 1])
        with np.errstate(all="ignore"):
            bar = self.slope_bars[l] * np.abs(P)
        return P, self.slopes[l] * P, (self.allowed("deltas", l) + np.abs(self.slopes[l]) * spread
                                       + np.where(np.isfinite(bar), bar, np.inf))

    def weight_step(self, l: int) -> tuple[np.ndarray, np.ndarray]:
        d = self.impl.deltas[l]
        xhat = d.T @ self.net.z[l]
        return xhat, self.allowed("grad_weights", l) + self.allowed("deltas", l).T @ np.abs(
            self.net.z[l])

    def bias_step(self, l: int) -> tuple[np.ndarray, np.ndarray]:
        return (self.impl.deltas[l].sum(axis=0),
                self.allowed("grad_biases", l) + self.allowed("deltas", l).sum(axis=0))

    # classification of each kind of first-wrong quantity
    def failing(self) -> list[tuple[str, int | None]]:
        return [(q, l) for q, l in walk_order(self.L) if self.verdict(q, l) == FAIL]

    def worst_entry(self, l: int) -> dict[str, Any] | None:
        """At the worst entry of a failing δ[l]: a, h'(a) and the implied h' (y, t at the output)."""
        r = self.res.get(("deltas", l))
        if r is None or r.verdict != FAIL or not r.worst:
            return None
        n, j = r.worst
        out: dict[str, Any] = {"layer": l, "entry": [n, j], "a": json_number(self.net.a[l][n, j]),
                               "impl": json_number(r.impl_value), "truth": json_number(r.oracle_value)}
        if l < self.L - 1:
            P = self.impl.deltas[l + 1] @ self.net.W[l + 1]
            out["h_prime"] = json_number(self.slopes[l][n, j])
            with np.errstate(all="ignore"):
                out["implied_h_prime"] = json_number(self.impl.deltas[l][n, j] / P[n, j]) \
                    if P[n, j] else None
        else:
            out["y"], out["t"] = json_number(self.net.y[n, j]), json_number(self.net.t[n, j])
        return out
