"""Depth: how the size of δ changes from layer to layer at initialisation.

The recurrence δ⁽ˡ⁾ = h′(a⁽ˡ⁾) ⊙ (W⁽ˡ⁺¹⁾ᵀ δ⁽ˡ⁺¹⁾) multiplies δ by a factor of h′ and one of W
per layer. sigmoid's h′ is at most ¼, tanh's and relu's reach 1, so at weights of variance
1/fan-in ‖δ‖ falls fast towards the input for sigmoid and slowly for tanh and relu; a larger
gain makes ‖W‖ larger. Many networks are drawn for each setting and measured; the claims are
about what was measured over them (medians, shares of networks), never a per-layer bound that
a correct network can break (‖W‖ of one layer can be near 2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from deltacheck.core import activations as registry
from deltacheck.core.words import plural
from deltacheck.reference_impl import backprop

DEPTH, WIDTH, BATCH, NETWORKS = 12, 32, 16, 40  # hidden layers, units, samples, draws
SETTINGS = (("sigmoid", 1.0), ("tanh", 1.0), ("relu", 1.0), ("sigmoid", 2.0), ("tanh", 2.0),
            ("relu", 2.0))  # (activation, gain g): weights normal with std g √(1/fan-in)
GEOMETRIC_R2 = 0.9  # log ‖δ‖ against depth is a straight line when its fit explains this much
GEOMETRIC_SHARE = 0.9  # of the networks, for "falls geometrically"
SEVERAL = 2.0  # "several times": sigmoid's decay per layer against relu's, as factors


def draw(activation: str, gain: float, rng: np.random.Generator) -> dict[str, Any]:
    """One network at initialisation: ‖δ‖ per hidden layer, mean h′ and ‖W‖₂ per layer."""
    widths = [WIDTH] * (DEPTH + 2)
    W = [gain * rng.normal(0, 1 / math.sqrt(widths[l]), (widths[l + 1], widths[l]))
         for l in range(len(widths) - 1)]
    b = [np.zeros(n) for n in widths[1:]]
    x, t = rng.normal(size=(BATCH, WIDTH)), rng.normal(size=(BATCH, WIDTH))
    out = backprop(W, b, [activation] * DEPTH, "mse", x, t)
    norms = [float(np.linalg.norm(d)) for d in out["deltas"][:DEPTH]]  # hidden layers 1..DEPTH
    h = registry.get(activation)
    z, dh = x, []
    for l in range(DEPTH):
        a = z @ W[l].T
        dh.append(float(np.mean(h.dh(a, np))))
        z = h.h(a, np)
    return {"norms": norms, "dh": dh,
            "w_norm": [float(np.linalg.norm(w, 2)) for w in W[1:DEPTH + 1]]}


def decay(norms: Sequence[float]) -> float:
    """The factor that multiplies ‖δ‖ per layer towards the input (geometric mean): below 1,
    it shrinks."""
    first, last = norms[0], norms[-1]
    if not (first > 0 and last > 0 and math.isfinite(first) and math.isfinite(last)):
        return math.nan
    return float((first / last) ** (1 / (len(norms) - 1)))


def straightness(norms: Sequence[float]) -> tuple[float, float]:
    """The slope of log10 ‖δ‖ against the layer, and R² of that straight line."""
    y = np.log10(np.asarray(norms, float))
    if not np.all(np.isfinite(y)):
        return math.nan, math.nan
    x = np.arange(len(y), dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    rest = float(np.sum((y - (slope * x + intercept)) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    return float(slope), 1.0 - rest / total if total > 0 else math.nan


def setting(activation: str, gain: float, seed: int) -> dict[str, Any]:
    """``NETWORKS`` draws of one setting, summarised: medians and quartiles per layer."""
    rng = np.random.default_rng([seed, int(gain * 10), len(activation)])
    nets = [draw(activation, gain, rng) for _ in range(NETWORKS)]
    # each network's ‖δ‖ relative to its last hidden layer's, so that curves start at 1
    rel = np.array([[v / n["norms"][-1] for v in n["norms"]] for n in nets])
    fits = [straightness(n["norms"]) for n in nets]
    decays = [decay(n["norms"]) for n in nets]
    falling = [s > 0 and r >= GEOMETRIC_R2 for s, r in fits]  # grows with l: falls to the input
    return {"activation": activation, "gain": gain, "networks": NETWORKS,
            "median_rel_norm": np.median(rel, axis=0).tolist(),
            "q1_rel_norm": np.quantile(rel, 0.25, axis=0).tolist(),
            "q3_rel_norm": np.quantile(rel, 0.75, axis=0).tolist(),
            "median_decay": float(np.nanmedian(decays)),
            "decay_range": [float(np.nanmin(decays)), float(np.nanmax(decays))],
            "geometric_share": float(np.mean(falling)),
            "median_dh": float(np.median([n["dh"] for n in nets])),
            "median_w_norm": float(np.median([n["w_norm"] for n in nets]))}


def run(seed: int) -> dict[str, Any]:
    """Every setting measured."""
    return {"depth": DEPTH, "width": WIDTH, "batch": BATCH,
            "settings": [setting(a, g, seed) for a, g in SETTINGS]}


def _get(doc: dict[str, Any], activation: str, gain: float) -> dict[str, Any]:
    return next(s for s in doc["settings"] if s["activation"] == activation and s["gain"] == gain)


def claims(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """What was measured over the drawn networks, each with its verdict (NaN never holds)."""
    sig, tanh, relu = (_get(doc, a, 1.0) for a in ("sigmoid", "tanh", "relu"))
    relu2 = _get(doc, "relu", 2.0)
    n = doc["depth"]
    return [
        {"holds": sig["geometric_share"] >= GEOMETRIC_SHARE and sig["median_decay"] < 1,
         "text": f"depth, sigmoid at gain 1: ‖δ‖ falls geometrically towards the input in "
                 f"{sig['geometric_share']:.0%} of {sig['networks']} networks (a straight "
                 f"falling line of log ‖δ‖, R² ≥ {GEOMETRIC_R2}; needed {GEOMETRIC_SHARE:.0%}), "
                 f"by a median factor of {1 / sig['median_decay']:.2f} per layer"},
        {"holds": 1 / sig["median_decay"] >= SEVERAL * (1 / relu["median_decay"]),
         "text": f"depth, gain 1: sigmoid's median shrink per layer ({1 / sig['median_decay']:.2f}×) "
                 f"is at least {SEVERAL:g} times relu's ({1 / relu['median_decay']:.2f}×)"},
        {"holds": 1 / tanh["median_decay"] < 1 / sig["median_decay"],
         "text": f"depth, gain 1: tanh's ‖δ‖ shrinks less per layer than sigmoid's "
                 f"({1 / tanh['median_decay']:.2f}× against {1 / sig['median_decay']:.2f}×)"},
        {"holds": relu2["median_decay"] > 1,
         "text": f"depth, relu at gain 2: ‖δ‖ grows towards the input (median ×"
                 f"{relu2['median_decay']:.2f} per layer, ×{relu2['median_decay'] ** (n - 1):.3g} "
                 f"over {plural(n, 'layer')})"},
    ]
