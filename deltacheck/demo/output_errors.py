"""Output errors by measurement: autograd's ∂E/∂a of the output layer beside the lecture's formulas.

For each pairing of a loss with an output activation, Hypothesis draws output layers (logits a,
saturated ones included, and targets t). torch autograd and jax grad differentiate the loss as
written, E(g(a), t), with no formula for δ in them; the claims are then measured against that:

- ``y − t``, which the lecture claims for the three canonical pairs;
- the general form δ_k = h′(a_k) ∂E/∂y_k (for softmax, the Jacobian product y ⊙ (g − y·g)
  with g = ∂E/∂y), which holds for every pair.

Deviations are counted in units of the last place (ulp) of the largest magnitude the formula
adds up, so that a formula evaluated in float64 is judged by its own rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from deltacheck.campaign import strategies
from deltacheck.demo.formulas import (
    OUTPUTS,
    Formula,
    general_form,
    one_minus_y,
    softmax_with_target_sums,
    y_minus_t,
)
from deltacheck.oracles.output_layer import jax_delta, torch_delta

# A formula matches autograd when no entry deviates by more than this. Autograd's own rounding
# reaches tens of ulp (jax's logaddexp gradient loses |a| ε at large logits); a wrong formula
# deviates by 1e12 ulp and more, so the line sits far from both.
MATCH_ULP = 1024.0
SATURATED = 1e-9  # an output this close to 0 or 1 (±1 for tanh) counts as saturated

# ---- the pairs ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pair:
    """A loss with an output activation, the targets drawn for it, and what is claimed for δ.

    ``canonical`` says whether δ = y − t is claimed: the verdict then asks that ``claim``
    matches autograd; otherwise that it does not, and that ``general`` does.
    """

    loss: str
    output: str
    targets: str  # "real", "unit" (entries in [0, 1]), "simplex" (rows sum to 1), "unnormalised"
    canonical: bool
    title: str
    claim: Formula
    general: Formula
    general_text: str

    @property
    def key(self) -> str:
        """A short id, unique among the pairs."""
        return f"{self.loss}-{self.output}-{self.targets}"


def _pair(loss: str, output: str, targets: str, canonical: bool, title: str,
          general_text: str, general: Formula | None = None) -> Pair:
    return Pair(loss, output, targets, canonical, title, y_minus_t(output),
                general or general_form(loss, output), general_text)


PAIRS: tuple[Pair, ...] = (
    _pair("mse", "identity", "real", True, "MSE with identity output",
          "δ_k = h′(a_k) ∂E/∂y_k = 1 · (y_k − t_k)"),
    _pair("bce", "sigmoid", "unit", True, "BCE with sigmoid output",
          "δ_k = σ′(a_k) [−t_k/y_k + (1 − t_k)/(1 − y_k)]"),
    _pair("ce", "softmax", "simplex", True, "Cross-entropy with softmax output",
          "δ = y ⊙ (g − Σ_j y_j g_j), g_k = −t_k/y_k"),
    _pair("mse", "sigmoid", "unit", False, "MSE with sigmoid output",
          "δ_k = σ′(a_k) (y_k − t_k) = y_k(1 − y_k)(y_k − t_k)"),
    _pair("mse", "tanh", "real", False, "MSE with tanh output",
          "δ_k = (1 − y_k²)(y_k − t_k)"),
    _pair("bce", "softmax", "unit", False, "BCE on a softmax output",
          "δ = y ⊙ (g − Σ_j y_j g_j), g_k = −t_k/y_k + (1 − t_k)/(1 − y_k)"),
    _pair("ce", "softmax", "unnormalised", False,
          "Cross-entropy with softmax, target rows not summing to 1",
          "δ = y Σ_k t_k − t", softmax_with_target_sums),
)


# ---- drawing output layers with Hypothesis --------------------------------------------------

@dataclass(frozen=True)
class OutputCase:
    """Logits a and targets t of one output layer, shape (N, K)."""

    a: np.ndarray
    t: np.ndarray


_TARGET_LOSS = {"real": "mse", "unit": "bce", "simplex": "ce", "unnormalised": "bce"}


# The drawn cases' own gains reach logits of about ±40; a further scale, in half the cases,
# saturates far more outputs while keeping every softmax probability above the underflow.
LOGIT_SCALES = (1.0, 1.0, 3.0, 6.0)


def draw_cases(pair: Pair, n: int, seed: int) -> list[OutputCase]:
    """``n`` output layers drawn by Hypothesis: scaled logits a = x Wᵀ + b of one-layer cases."""
    softmax = pair.output == "softmax"
    # regions=False: the demo measures ordinary output layers; overflow and exact labels are
    # the campaign's business (an exact 0/1 label makes the general form 0/0)
    strategy = strategies.cases(max_layers=1, min_width=2 if softmax else 1, max_width=8,
                                losses=[_TARGET_LOSS[pair.targets]], regions=False)
    drawn: list[OutputCase] = []

    def collect(case: Any, scale: float) -> None:
        a = scale * (case.x @ case.weights[0].T + case.biases[0])
        drawn.append(OutputCase(a=a, t=np.array(case.t)))

    run = hypothesis_seed(seed)(settings(
        max_examples=n, deadline=None, database=None, phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
        print_blob=False)(given(strategy, st.sampled_from(LOGIT_SCALES))(collect)))
    run()
    return drawn


def saturated(output: str, a: np.ndarray) -> bool:
    """Whether any output of the layer is saturated (identity: a logit beyond ±20)."""
    if output == "identity":
        return bool(np.any(np.abs(a) > 20))
    if output == "tanh":
        return bool(np.any(1.0 - np.abs(np.tanh(a)) < SATURATED))
    y = OUTPUTS[output](a)
    return bool(np.any((y < SATURATED) | (one_minus_y(output, a) < SATURATED)))


# ---- autograd: E(g(a), t) as written, differentiated by torch and jax (deltacheck.oracles)

AUTOGRAD: dict[str, Callable[..., np.ndarray]] = {"torch": torch_delta, "jax": jax_delta}


# ---- measuring -------------------------------------------------------------------------------

def _groups(pair: Pair, cases: Sequence[OutputCase]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cases stacked into few arrays: one column for elementwise outputs, one per K for softmax.

    Stacking rows changes nothing, because E is a sum over samples (and over entries for
    elementwise outputs); fewer, larger calls are faster.
    """
    if not cases:
        return []
    if pair.output != "softmax":
        return [(np.concatenate([c.a.ravel() for c in cases])[:, None],
                 np.concatenate([c.t.ravel() for c in cases])[:, None])]
    by_k: dict[int, list[OutputCase]] = {}
    for c in cases:
        by_k.setdefault(c.a.shape[1], []).append(c)
    return [(np.concatenate([c.a for c in cs]), np.concatenate([c.t for c in cs]))
            for _, cs in sorted(by_k.items())]


def ulp_deviation(got: np.ndarray, want: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """|got − want| in units of the last place of ``scale`` (nan where either is not finite)."""
    dev = np.abs(got - want) / np.spacing(np.abs(scale))
    return np.where(np.isfinite(got) & np.isfinite(want), dev, np.nan)


def _worst(dev: np.ndarray) -> float:
    """The largest deviation; inf when any entry is nan, so that nan never matches."""
    if dev.size == 0:
        return float("nan")
    return float("inf") if np.isnan(dev).any() else float(dev.max())


def factors(truth: np.ndarray, claim: np.ndarray) -> list[float]:
    """How far a formula is off, as a person reads it: the smallest, median and largest factor
    max(δ/c, c/δ) between autograd's δ and the formula's c, over entries where both are sizable
    (a factor between two roundings of 0 means nothing). Empty when no entry qualifies."""
    ok = (np.abs(claim) > 1e-3) & (np.abs(truth) > 1e-300) & np.isfinite(truth) & np.isfinite(claim)
    if not ok.any():
        return []
    ratio = np.abs(truth[ok] / claim[ok])
    f = np.maximum(ratio, 1 / ratio)
    return [float(f.min()), float(np.median(f)), float(f.max())]


def _sample(x: np.ndarray, y: np.ndarray, k: int) -> list[list[float]]:
    """At most ``k`` evenly spaced points, finite ones only, for a plot."""
    idx = np.linspace(0, x.size - 1, min(k, x.size)).astype(int) if x.size else np.zeros(0, int)
    return [[float(x[i]), float(y[i])] for i in idx if np.isfinite(x[i]) and np.isfinite(y[i])]


def measure(pair: Pair, cases: Sequence[OutputCase], oracles: Sequence[str] = ("torch", "jax"),
            points: int = 300, pairs: Sequence[Pair] = ()) -> dict[str, Any]:
    """Every claim of ``pair`` against every oracle over ``cases``: deviations in ulp.

    ``pairs`` are all the pairs measured in this run (jax compiles them together).
    """
    worst = {o: {"y_minus_t": 0.0, "general": 0.0} for o in oracles}
    pts_claim, pts_general = [], []
    for a, t in _groups(pair, cases):
        y = OUTPUTS[pair.output](a)
        claim, claim_scale = pair.claim(a, y, t)
        general, general_scale = pair.general(a, y, t)
        for o in oracles:
            truth = (jax_delta(pair, a, t, pairs) if o == "jax" else AUTOGRAD[o](pair, a, t))
            scale = np.abs(truth)
            worst[o]["y_minus_t"] = max(worst[o]["y_minus_t"], _worst(
                ulp_deviation(truth, claim, np.maximum(claim_scale, scale))))
            worst[o]["general"] = max(worst[o]["general"], _worst(
                ulp_deviation(truth, general, np.maximum(general_scale, scale))))
            if o == oracles[0]:
                pts_claim.append((claim.ravel(), truth.ravel()))
                pts_general.append((general.ravel(), truth.ravel()))
    # no case or no oracle measured nothing: nan, which matches nothing
    nan = float("nan")
    max_claim = max((w["y_minus_t"] for w in worst.values()), default=nan) if cases else nan
    max_general = max((w["general"] for w in worst.values()), default=nan) if cases else nan
    cat = [np.concatenate(p) if p else np.zeros(0) for p in zip(*pts_claim, strict=False)]
    factor = factors(cat[1], cat[0]) if cat else []
    cat_g = [np.concatenate(p) if p else np.zeros(0) for p in zip(*pts_general, strict=False)]
    return {
        "loss": pair.loss, "output": pair.output, "canonical": pair.canonical,
        "cases": len(cases),
        "max_dev_ulp": max_claim,
        "matches_y_minus_t": bool(max_claim <= MATCH_ULP),
        "matches_general_form": bool(max_general <= MATCH_ULP),
        # what the report shows beside the row
        "detail": {
            "key": pair.key, "title": pair.title, "targets": pair.targets,
            "general_text": pair.general_text, "general_dev_ulp": max_general,
            "factor": factor,  # y − t against autograd: [smallest, median, largest]
            "by_oracle": worst, "oracles": list(oracles),
            "saturated_cases": sum(saturated(pair.output, c.a) for c in cases),
            "entries": int(sum(c.a.size for c in cases)),
            "row_sums": _row_sums(cases) if pair.output == "softmax" else None,
            "points_claim": _sample(cat[0], cat[1], points) if cat else [],
            "points_general": _sample(cat_g[0], cat_g[1], points) if cat_g else [],
        },
    }


def _row_sums(cases: Sequence[OutputCase]) -> list[float]:
    sums = np.concatenate([c.t.sum(axis=1) for c in cases]) if cases else np.zeros(0)
    return [float(sums.min()), float(sums.max())] if sums.size else []


def holds(row: dict[str, Any]) -> bool:
    """A canonical row matches y − t; any other does not, and matches the general form."""
    if row["canonical"]:
        return bool(row["matches_y_minus_t"])
    return not row["matches_y_minus_t"] and bool(row["matches_general_form"])


def run(pairs: Sequence[Pair] = PAIRS, *, cases: int = 200, seed: int = 0,
        oracles: Sequence[str] = ("torch", "jax")) -> list[dict[str, Any]]:
    """One measured row per pair, each over ``cases`` Hypothesis-drawn output layers."""
    drawn: dict[tuple[str, bool], list[OutputCase]] = {}
    rows = []
    for p in pairs:
        # pairs with the same targets and output width share their cases: fewer draws, and
        # the contrast is drawn on the very same logits
        kind = (p.targets, p.output == "softmax")
        if kind not in drawn:
            drawn[kind] = draw_cases(p, cases, seed + len(drawn))
        rows.append(measure(p, drawn[kind], oracles, pairs=tuple(pairs)))
    return rows
