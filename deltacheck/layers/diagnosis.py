"""Why a layer's gradient is wrong: the first wrong gradient measured against the truth.

| cause | test on the user's g and the truth y |
|---|---|
| ``raised``, ``wrong forward``, ``modifies input``, ``shape``, ``double backward`` | its reason |
| ``summed over the wrong axis`` | g has the shape of y reduced over another axis |
| ``nonfinite`` | g holds NaN or inf |
| ``sign`` | g = −y |
| ``factor`` | g = c y, c named when it is N, 1/N, p, 1/p, D, ... |
| ``transposed or reshaped`` | g is y transposed, or y's entries in another order |
| ``kernel not rotated`` | conv: g is the gradient of the kernel flipped in both spatial axes |
| ``routing`` | max pool: g is the window gradient written, not added, where windows overlap |
| ``missing path`` | norms: g = a T₀ + b T₁ + c T₂ (dout, mean and variance terms) with b or c off |
| ``across time steps``, ``gate order``, ``mask``, ``repeated indices`` | see ``recurrent_diagnosis`` |
| ``unknown`` | none of these; the normwise relative error is given |
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from deltacheck.layers import recurrent_diagnosis
from deltacheck.layers.draws import LayerCase
from deltacheck.layers.judging import CaseOutcome
from deltacheck.oracles.layers import get_kind, vjp

CLOSE = 1e-6  # a candidate explains g when ‖g − candidate‖ ≤ CLOSE ‖g‖ (+ rounding)


def _close(g: np.ndarray, c: np.ndarray) -> bool:
    if g.shape != c.shape:
        return False
    return bool(np.linalg.norm(g - c) <= CLOSE * max(float(np.linalg.norm(g)), 1e-30) + 1e-9)


def _factor_name(c: float, case: LayerCase) -> str:
    x = case.inputs.get("x", np.asarray(case.params.get("x", np.zeros((1, 1)))))
    named: dict[str, float] = {"N": x.shape[0], "D": int(np.prod(x.shape[1:])), "2": 2}
    if x.ndim == 3:
        named |= {"T": x.shape[1], "N·T": x.shape[0] * x.shape[1]}
    if x.ndim == 4:
        named |= {"H·W": x.shape[2] * x.shape[3], "N·H·W": x.shape[0] * x.shape[2] * x.shape[3]}
    p = case.params.get("dropout_param", {}).get("p")
    if p:
        named["p"] = p
    for name, v in named.items():
        for word, value in ((name, v), (f"1/{name}", 1 / v)):
            if v != 1 and abs(c - value) <= 1e-6 * abs(value):
                return f"{word} ({name} = {v:g})" if name != "2" else word
    return f"{c:.4g}"


def diagnose(case: LayerCase, outcome: CaseOutcome) -> dict[str, Any]:
    """``{"cause", "gradient", "text"}`` for a failing case."""
    stage, name = outcome.stage, outcome.first_wrong
    simple = {"raised": "raised", "forward": "wrong forward", "modified": "modifies input",
              "double backward": "double backward"}
    if stage == "backward" and " raised " in outcome.message:
        stage = "raised"
    if stage in simple:
        return {"cause": simple[stage], "gradient": name, "text": outcome.message}
    if stage == "shape":
        return _shape(case, outcome)
    if outcome.run is None or not outcome.truths or not name:
        return {"cause": "unknown", "gradient": name, "text": outcome.message}
    truth = outcome.truths.get("torch") or outcome.truths.get("jax") or outcome.truths["fd"]
    g = np.asarray(outcome.run.grads[name], dtype=np.float64)
    y = np.asarray(truth[name], dtype=np.float64)
    for cause, test in _TESTS:
        text = test(case, name, g, y, outcome)
        if text:
            return {"cause": cause, "gradient": name, "text": f"{name}: {text}"}
    rel = np.linalg.norm(g - y) / max(np.linalg.norm(y), 1e-300)
    return {"cause": "unknown", "gradient": name,
            "text": f"{name}: wrong by a normwise relative error of {rel:.2g}"}


def _shape(case: LayerCase, outcome: CaseOutcome) -> dict[str, Any]:
    name = outcome.first_wrong
    kind = get_kind(case.kind)
    grads = outcome.run.grads if outcome.run else {}
    if name in grads:
        want = case.inputs[kind.inputs[kind.grads.index(name)]].shape
        got = np.shape(grads[name])
        x = case.inputs.get("x", case.inputs[kind.inputs[0]])
        if len(got) == len(want) and got != want and sorted(got) == sorted(want):
            return {"cause": "transposed or reshaped", "gradient": name,
                    "text": f"{name} has shape {got}, {want} transposed"}
        if got != want and int(np.prod(got)) == int(np.prod(want)):  # the same entries
            return {"cause": "transposed or reshaped", "gradient": name,
                    "text": f"{name} has shape {got}, the entries of {want} in another shape: "
                            f"reshape it back to the shape of its input"}
        reduced = {tuple(s for i, s in enumerate(x.shape) if i != a) for a in range(x.ndim)}
        if got in reduced and got != want:
            return {"cause": "summed over the wrong axis", "gradient": name,
                    "text": f"{name} has shape {got}, but should be {want}: summed over the "
                            f"wrong axis"}
    return {"cause": "shape", "gradient": name, "text": outcome.message}


def _nonfinite(case: LayerCase, name: str, g: np.ndarray, y: np.ndarray, o: Any) -> str:
    return "holds NaN or inf" if not np.all(np.isfinite(g)) else ""


def _sign(case: LayerCase, name: str, g: np.ndarray, y: np.ndarray, o: Any) -> str:
    return "has the wrong sign (it is −1 × the truth)" if _close(g, -y) else ""


def _factor(case: LayerCase, name: str, g: np.ndarray, y: np.ndarray, o: Any) -> str:
    yy = float(np.sum(y * y))
    if yy == 0:
        return ""
    c = float(np.sum(g * y)) / yy
    if abs(c - 1) < 1e-9 or not _close(g, c * y):
        return ""
    return f"is {_factor_name(c, case)} × the truth: a factor slipped"


def _transposed(case: LayerCase, name: str, g: np.ndarray, y: np.ndarray, o: Any) -> str:
    if y.ndim >= 2:
        if _close(g, y.T.reshape(y.shape)) or _close(g, y.reshape(y.shape[::-1]).T):
            return "holds the truth's entries transposed (reshaped without moving axes)"
        for perm in itertools.permutations(range(y.ndim)):
            if perm != tuple(range(y.ndim)) and _close(
                    g, np.transpose(y, perm).reshape(y.shape)):
                return f"holds the truth's entries in axis order {perm} (reshaped, not moved)"
    return ""


def _not_rotated(case: LayerCase, name: str, g: np.ndarray, y: np.ndarray, o: Any) -> str:
    if case.kind != "conv" or name not in ("dx", "dw"):
        return ""
    if name == "dw":
        return "is the truth flipped in both spatial axes" if _close(
            g, y[:, :, ::-1, ::-1]) else ""
    inputs = {n: np.asarray(v, np.float64) for n, v in case.inputs.items()}
    inputs["w"] = inputs["w"][:, :, ::-1, ::-1]
    flipped = vjp("conv", "torch", inputs, o.run.ref_params, np.asarray(o.run.dout, np.float64))
    return "is the gradient of the kernel unrotated (not flipped by 180°)" if _close(
        g, flipped["dx"]) else ""


def _routing(case: LayerCase, name: str, g: np.ndarray, y: np.ndarray, o: Any) -> str:
    if case.kind != "max_pool":
        return ""
    x = np.asarray(case.inputs["x"], np.float64)
    pool = case.params["pool_param"]
    ph, pw, s = pool["pool_height"], pool["pool_width"], pool["stride"]
    dout = np.asarray(o.run.dout, np.float64)
    written = np.zeros_like(x)
    for i, j in np.ndindex(*dout.shape[2:]):
        window = x[:, :, i * s:i * s + ph, j * s:j * s + pw].reshape(*x.shape[:2], -1)
        k = np.argmax(window, axis=-1)
        for n, c in np.ndindex(*x.shape[:2]):
            written[n, c, i * s + k[n, c] // pw, j * s + k[n, c] % pw] = dout[n, c, i, j]
    return ("writes each window's gradient instead of adding it where windows overlap"
            if _close(g, written) else "")


def _missing_path(case: LayerCase, name: str, g: np.ndarray, y: np.ndarray, o: Any) -> str:
    terms = _norm_terms(case, o)
    if terms is None or name != "dx":
        return ""
    t0, t1, t2 = terms
    if _close(g, t0 + t2):
        return "misses the path through the mean"
    if _close(g, t0 + t1):
        return "misses the path through the variance"
    A = np.stack([t.reshape(-1) for t in terms], axis=1)
    coef, _, rank, _ = np.linalg.lstsq(A, g.reshape(-1), rcond=None)
    if rank < 3:
        return ""
    if not _close(g, (A @ coef).reshape(g.shape)):
        return ""
    a, b, c = coef
    return (f"has the mean term × {b:.4g} and the variance term × {c:.4g} "
            f"(and dout × {a:.4g}): a path is scaled wrong")


def _norm_terms(case: LayerCase, o: Any) -> tuple[np.ndarray, ...] | None:
    """dout γ/σ, its mean and the x̂-weighted mean, each as dx would hold them."""
    mean: Callable[[np.ndarray], np.ndarray]
    back: Callable[[np.ndarray], np.ndarray]
    kind = case.kind
    if kind not in ("batchnorm", "spatial_batchnorm", "layernorm", "spatial_groupnorm"):
        return None
    x = np.asarray(case.inputs["x"], np.float64)
    gamma = np.asarray(case.inputs["gamma"], np.float64)
    eps = next(v.get("eps", 1e-5) for v in case.params.values() if isinstance(v, dict))
    if kind in ("batchnorm", "spatial_batchnorm"):
        ax = (0,) if kind == "batchnorm" else (0, 2, 3)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        mean = lambda v: v.mean(axis=ax, keepdims=True)  # noqa: E731
        gamma = gamma.reshape(shape)
        grouped, back = x, lambda v: v
    elif kind == "layernorm":
        mean = lambda v: v.mean(axis=1, keepdims=True)  # noqa: E731
        grouped, back = x, lambda v: v
    else:
        G = case.params["G"]
        grouped = x.reshape(x.shape[0], G, -1)
        mean = lambda v: v.mean(axis=2, keepdims=True)  # noqa: E731
        back = lambda v: v.reshape(x.shape)  # noqa: E731
    mu = mean(grouped)
    sigma = np.sqrt(mean((grouped - mu) ** 2) + eps)
    x_hat = (grouped - mu) / sigma
    dout = np.asarray(o.run.dout, np.float64)
    d_hat = dout * gamma
    d_hat = d_hat.reshape(grouped.shape)
    t0 = d_hat / sigma
    t1 = -np.broadcast_to(mean(d_hat), grouped.shape) / sigma
    t2 = -x_hat * mean(d_hat * x_hat) / sigma
    return back(t0), back(t1), back(t2)


# the recurrent slips first: on the small cases a failure shrinks to, most of them also read as
# a scalar factor (a T = 1 sequence whose dh was dropped is 0 × the truth)
_TESTS = (("nonfinite", _nonfinite), *recurrent_diagnosis.TESTS, ("sign", _sign),
          ("factor", _factor), ("transposed or reshaped", _transposed),
          ("kernel not rotated", _not_rotated), ("routing", _routing),
          ("missing path", _missing_path))
