"""The three truths of a layer case, their error bars, floors and the entries they cannot judge.

- torch and jax: the VJP of the reference forward for the case's ``dout``;
- fd: central differences of the *user's own* forward, vectorised: entries whose outputs do not
  overlap are perturbed together (which outputs an entry reaches is read once per shape from
  the numpy reference, by setting it to NaN), and each entry's share is read back from the
  outputs it owns. Its error bar is FD_BAR_FACTOR times the truncation term h² f‴/6 measured
  by a third difference (one more forward per group), plus the rounding of the sums over h.
- floors: a backward-error estimate. A rounding-stable layer in a dtype with unit roundoff ε
  computes the exact gradient of inputs perturbed by about ε relatively; so the floor is
  FLOOR_FACTOR ε times how far the true gradient moves per unit relative perturbation of the
  inputs and dout (measured on the reference VJP along two random sign directions), plus the
  same of the value itself; for gated recurrent layers, plus the rounding of the local
  derivatives where a gate saturates (``recurrent_floors``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from deltacheck.core import activations as registry
from deltacheck.core.tolerances import (
    FD_BAR_FACTOR,
    FD_ROUNDING_FACTOR,
    FD_STEP,
    FLOOR_FACTOR,
    KINK_SLACK_FACTOR,
)
from deltacheck.layers import grouping, recurrent_floors
from deltacheck.layers.calling import call_forward, user_params
from deltacheck.layers.discovery import LayerSpec
from deltacheck.layers.draws import LayerCase
from deltacheck.layers.grouping import as64, groups
from deltacheck.oracles.layers import Kind, forward, vjp
from deltacheck.oracles.layers.kinds import SANDWICHES
from deltacheck.oracles.layers.sandwich import stages

# The relative step of the layer fd: a layer's forward is linear or smooth in any one entry, so
# at ε^(1/3) rounding, not truncation, dominates its differences (a per-entry loop's 1e-5 was
# more accurate); twice that halves the rounding, and the third difference in the error bar
# bounds what it adds in truncation.
STEP = 2 * FD_STEP
ETA = 1e-7  # the relative perturbation of the floor's estimate (linear, far above float64 noise)


def framework_truth(kind: Kind, framework: str, case: LayerCase, ref_params: Mapping[str, Any],
                    dout: Any) -> dict[str, np.ndarray]:
    """The reference VJP by torch autograd or jax.vjp, in float64."""
    return vjp(kind, framework, as64(case.inputs), ref_params, np.asarray(dout, np.float64))


def floors(kind: Kind, case: LayerCase, ref_params: Mapping[str, Any], dout: Any,
           truth: Mapping[str, np.ndarray], framework: str) -> dict[str, np.ndarray]:
    """Per entry: FLOOR_FACTOR ε (|∂y/∂(inputs, dout)| · relative perturbation + |y|)."""
    eps = float(np.finfo(case.dtype).eps)
    rng = np.random.default_rng(case.seed + 3)
    inputs, dout64 = as64(case.inputs), np.asarray(dout, np.float64)
    moved = {name: np.zeros(np.shape(v)) for name, v in truth.items()}
    for draw in range(SHAKES):
        shaken = {n: v * (1 + ETA * _signs(rng, v.shape, draw)) for n, v in inputs.items()}
        d = dout64 * (1 + ETA * _signs(rng, dout64.shape, draw))
        other = vjp(kind, framework, shaken, ref_params, d)
        for name, value in truth.items():
            moved[name] = np.maximum(moved[name], np.abs(other[name] - value) / ETA)
    # and never below FLOOR_FACTOR ε times the case's largest gradient: a value that is 0 in
    # exact arithmetic (dgamma of a layer norm of one feature) is a sum of such terms' rounding
    scale = max(float(np.max(np.abs(v), initial=0.0)) for v in truth.values())
    out = {name: FLOOR_FACTOR * eps * (moved[name] + np.abs(value) + scale) + eps**2
           for name, value in truth.items()}
    saturated = recurrent_floors.saturation_scale(kind.name, inputs, dout64)
    for name, bound in (saturated or {}).items():
        out[name] = out[name] + FLOOR_FACTOR * eps * bound
    # a norm's dx is a difference of terms of size |γ dout| / σ
    if "gamma" in inputs and not kind.forwards:
        term = FLOOR_FACTOR * eps * float(
            np.max(np.abs(inputs["gamma"])) * np.max(np.abs(dout64))) / _least_sigma(case)
        if kind.name not in SANDWICHES:
            # x̂ = (x − μ) / σ is rounded to ε |x| / σ, not ε: x far from 0 against its spread
            rounding = float(np.max(np.abs(inputs["x"]))) / _least_sigma(case)
            out["dx"] = out["dx"] + term * (1.0 + rounding)
            out["dgamma"] = out["dgamma"] + FLOOR_FACTOR * eps * rounding * float(
                np.sum(np.abs(dout64)))
        else:  # in a sandwich that dx is the first stage's dout: carried back through it,
            # and x̂ = (a − μ) / σ of the stage before it is rounded to ε |a| / σ, not ε
            found = stages(kind.name, case.inputs, case.params)
            a = next(g["x"] for _, g, _ in found if "gamma" in g)
            rounding = float(np.max(np.abs(a))) / _least_sigma(case)
            term *= 1.0 + rounding
            stage, given, params = found[0]
            shape = np.shape(forward(stage, "numpy", given, params)[0])
            bounds = vjp(stage, framework, {n: np.abs(v) for n, v in given.items()}, params,
                         np.full(shape, term))
            out = {name: value + bounds.get(name, 0.0) for name, value in out.items()}
            # dγ = Σ dout x̂ adds up that rounding of x̂ (a constant a: x̂ = 0 but for it)
            out["dgamma"] = out["dgamma"] + FLOOR_FACTOR * eps * rounding * float(
                np.sum(np.abs(dout64)))
    return out


SHAKES = 3  # relative perturbations a floor is estimated from: two at random, one alternating


def _signs(rng: np.random.Generator, shape: tuple[int, ...], draw: int) -> np.ndarray:
    """±1 per entry: at random, or (the last draw) alternating along every axis, so that
    neighbours in any normalisation set move apart (two random signs agree half the time, and
    a norm's x − μ barely moves when its entries move together)."""
    if draw < SHAKES - 1:
        return rng.choice([-1.0, 1.0], shape)
    return (-1.0) ** np.indices(shape).sum(axis=0) if shape else np.ones(())


def _least_sigma(case: LayerCase) -> float:
    """The smallest σ = sqrt(var + eps) over the norm's normalisation sets (train mode)."""
    x, kind = np.asarray(case.inputs["x"], np.float64), case.kind
    if kind in SANDWICHES:  # the norm's stage, on what the stages before it give
        kind, given, _ = next(s for s in stages(kind, case.inputs, case.params) if "gamma" in s[1])
        x = given["x"]
    param = next(v for k, v in case.params.items() if k.endswith(("bn_param", "ln_param",
                                                                    "gn_param")))
    axes = {"batchnorm": (0,), "spatial_batchnorm": (0, 2, 3), "layernorm": (1,)}
    if kind in axes:
        var = x.var(axis=axes[kind])
    else:
        var = x.reshape(x.shape[0], case.params["G"], -1).var(axis=2)
    return float(np.sqrt(np.min(var) + param.get("eps", 1e-5)))


def forward_floor(kind: Kind, case: LayerCase, ref_params: Mapping[str, Any],
                  want: np.ndarray) -> np.ndarray:
    """The same estimate for the forward output, on the numpy reference."""
    eps = float(np.finfo(case.dtype).eps)
    rng = np.random.default_rng(case.seed + 4)
    inputs = as64(case.inputs)
    moved = np.zeros(np.shape(want))
    for draw in range(SHAKES):
        shaken = {n: v * (1 + ETA * _signs(rng, v.shape, draw)) for n, v in inputs.items()}
        moved = np.maximum(moved, np.abs(forward(kind, "numpy", shaken, ref_params)[0] - want)
                           / ETA)
    return FLOOR_FACTOR * eps * (moved + np.abs(want)) + eps**2


# -- which outputs each entry reaches, and groups of entries that do not interact -----------

def fd_truth(spec: LayerSpec, kind: Kind, case: LayerCase, ref_params: Mapping[str, Any],
             dout: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """Central differences of the user's forward and their error bars; None if it breaks."""
    params = user_params(spec, case.params)
    inputs = as64(case.inputs)
    dout64 = np.asarray(dout, np.float64).reshape(-1)

    def out(values: dict[str, np.ndarray]) -> np.ndarray:
        with np.errstate(all="ignore"):
            got = call_forward(spec, kind, values, copy.deepcopy(params))[0]
        return np.asarray(got, dtype=np.float64).reshape(-1)

    grads, bars = {}, {}
    try:
        base = out(inputs)
        sizes = np.maximum(np.abs(dout64 * base), _rounding_size(kind, case, dout64))
        for name, grad_name in zip(kind.inputs, kind.grads, strict=True):
            x = inputs[name].reshape(-1)
            g, bar = np.zeros(x.size), np.zeros(x.size)
            for entries, owner in groups(kind, case, ref_params)[name]:
                h = STEP * np.maximum(1.0, np.abs(x[entries]))
                plus = (x[entries] + h) - x[entries]  # the steps actually taken
                minus = x[entries] - (x[entries] - h)
                o_p, o_m, o_2 = (_moved(out, inputs, name, entries, step)
                                 for step in (plus, -minus, 2 * plus))
                # each output's change first, then each entry's share of ⟨dout, Δout⟩:
                # differences of whole sums would lose the digits the sums carry
                g[entries] = _share(owner, dout64 * (o_p - o_m), entries.size) / (plus + minus)
                third = _share(owner, dout64 * ((o_2 - o_p) - 2 * (o_p - base)
                                                + (base - o_m)), entries.size)  # ≈ h³ f‴
                size = _share(owner, sizes, entries.size)
                bar[entries] = (FD_BAR_FACTOR * np.abs(third) / (6 * h)
                                + FD_ROUNDING_FACTOR * np.finfo(np.float64).eps * size / h)
            grads[grad_name] = g.reshape(inputs[name].shape)
            bars[grad_name] = bar.reshape(inputs[name].shape)
    except Exception:
        return None
    if not all(np.all(np.isfinite(v)) for v in grads.values()):
        return None
    return grads, bars


def _rounding_size(kind: Kind, case: LayerCase, dout: np.ndarray) -> np.ndarray | float:
    """What one output of a sandwich adds up before its last stages cancel or zero it: |dout|
    times the largest value a stage meets, and for a norm |γ| (|a| + |μ|) / σ + |β|."""
    if kind.name not in SANDWICHES:
        return 0.0
    found = stages(kind.name, case.inputs, case.params)
    largest = max(float(np.max(np.abs(given["x"]), initial=0.0)) for _, given, _ in found)
    for _, given, _ in found:
        if "gamma" in given:
            largest = max(largest, float(np.max(np.abs(given["gamma"])) * 2 * np.max(
                np.abs(given["x"])) / _least_sigma(case) + np.max(np.abs(given["beta"]))))
    return np.abs(dout) * largest


def _share(owner: np.ndarray, per_output: np.ndarray, size: int) -> np.ndarray:
    """Each of a group's ``size`` entries' share of a per-output quantity (its outputs' sum)."""
    sel = owner >= 0
    return np.bincount(owner[sel], weights=per_output[sel], minlength=size)


def _moved(out: Any, inputs: dict[str, np.ndarray], name: str, entries: np.ndarray,
           step: np.ndarray) -> np.ndarray:
    """The forward's output with the group's entries of ``name`` moved by ``step``."""
    moved = inputs[name].reshape(-1).copy()
    moved[entries] += step
    return out({**inputs, name: moved.reshape(inputs[name].shape)})


# -- entries that cannot be judged: kinks, pooling ties, hinge margins of 0 ------------------

def unjudged(kind: Kind, case: LayerCase, oracle: str) -> dict[str, np.ndarray | None]:
    """Per gradient, the entries ``oracle`` cannot judge (None: it judges them all)."""
    eps = float(np.finfo(case.dtype).eps)
    x = np.array(case.inputs.get("x", np.zeros(0)), dtype=np.float64)
    near = 4 * STEP if oracle == "fd" else KINK_SLACK_FACTOR * eps
    mask = None
    if kind.activation is not None:
        kinks = getattr(registry.get(kind.activation), "kinks", None) or ()
        if kinks:
            mask = np.zeros(x.shape, dtype=bool)
            for k in kinks:
                mask |= np.abs(x - k) <= near * np.maximum(1.0, np.abs(x))
    elif kind.name == "max_pool":
        mask = _tied_windows(x, case.params["pool_param"], near)
    elif kind.name in SANDWICHES and _relu_near_kink(kind, case, oracle, eps):
        # its relu's own a may sit on the other side of 0: nothing of the case is judged
        return {name: np.ones(np.shape(case.inputs[i]), dtype=bool)
                for name, i in zip(kind.grads, kind.inputs, strict=True)}
    elif kind.name == "svm_loss":
        y = case.params["y"]
        rows = np.arange(x.shape[0])
        margins = x - x[rows, y][:, None] + 1.0
        margins[rows, y] = np.inf
        close = np.abs(margins) <= near * np.maximum(1.0, np.abs(x))
        mask = close | (close.any(axis=1, keepdims=True) & (np.arange(x.shape[1]) == y[:, None]))
    return {name: (mask if i == 0 else None) for i, name in enumerate(kind.grads)}


def _relu_near_kink(kind: Kind, case: LayerCase, oracle: str, eps: float) -> bool:
    """Whether a sandwich's relu input is within the rounding of the sums that make it (in the
    implementation's dtype), or within fd's steps of 0 for fd: the user's a may then be on the
    other side of the kink from the reference's, and relu' with it."""
    found = stages(kind.name, case.inputs, case.params)
    at = [i for i, (stage, _, _) in enumerate(found) if stage == "relu"]
    if not at:
        return False
    a = found[at[0]][1]["x"]
    # the size of the sums that make a: the linear stage's with every value made positive
    # (for fd, each at least 1: a step moves it by STEP max(1, |v|))
    lift = (lambda v: np.maximum(1.0, np.abs(v))) if oracle == "fd" else np.abs
    stage, given, params = found[0]
    size = np.abs(forward(stage, "numpy", {n: lift(v) for n, v in given.items()}, params)[0])
    if at[0] == 2:  # a norm between: |γ| (|x̂| + 1 + size/σ) + |β|, σ its smallest spread
        _, norm, _ = found[1]
        axes = 1 if kind.name == "affine_ln_relu" else 0 if a.ndim == 2 else (0, 2, 3)
        sigma = float(np.sqrt(np.var(norm["x"], axis=axes) + 1e-5).min())
        gamma, beta = (np.abs(norm[n]).reshape((1, -1) + (1,) * (a.ndim - 2))
                       for n in ("gamma", "beta"))
        xhat = (a - norm["beta"].reshape(beta.shape)) / np.where(gamma == 0, 1.0, gamma)
        size = gamma * (np.abs(xhat) + 1 + float(size.max()) / sigma) + beta
    near = 4 * STEP if oracle == "fd" else KINK_SLACK_FACTOR * eps
    return bool(np.any(np.abs(a) <= near * size))


def _tied_windows(x: np.ndarray, pool: Mapping[str, int], near: float) -> np.ndarray:
    ph, pw, s = pool["pool_height"], pool["pool_width"], pool["stride"]
    mask = np.zeros(x.shape, dtype=bool)
    for i in range(1 + (x.shape[2] - ph) // s):
        for j in range(1 + (x.shape[3] - pw) // s):
            window = x[:, :, i * s:i * s + ph, j * s:j * s + pw].reshape(*x.shape[:2], -1)
            top = np.sort(window, axis=-1)
            gap = top[..., -1] - top[..., -2] if window.shape[-1] > 1 else np.full(
                x.shape[:2], np.inf)
            tie = gap <= near * np.maximum(1.0, np.abs(top[..., -1]))
            mask[:, :, i * s:i * s + ph, j * s:j * s + pw] |= tie[:, :, None, None]
    return mask


class JaxBudget:
    """jax compiles each new shape (about a second on a CPU): it judges every case whose shapes
    it has compiled, and new shapes only while ``budget`` new ones remain; the cases it judged
    are counted in the results."""

    def __init__(self, budget: int = 6) -> None:
        self.budget, self.seen = budget, set[str]()

    def admits(self, kind: Kind, case: LayerCase, force: bool = False) -> bool:
        key = grouping.key(kind, case, {}) + repr(case.params.get("bn_param", {}).get("mode"))
        if key in self.seen:
            return True
        if self.budget <= 0 and not force:
            return False
        self.budget -= 1
        self.seen.add(key)
        return True
