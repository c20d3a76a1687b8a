"""Canonical links in general: why δ = y − t, and when.

A loss that is the negative log-likelihood of an exponential-family distribution, with the
output activation g the inverse of that distribution's canonical link, has δ = ∂E/∂a = y − t:
the log-likelihood is linear in the natural parameter a, up to a function whose derivative is
the mean y = g(a). Gaussian → identity, Bernoulli → sigmoid, categorical → softmax, Poisson →
exp. Any other g keeps a factor g′(a)/Var(y) in δ. Each pairing is measured with torch autograd
(the likelihood as written, no formula for δ) against y − t on drawn logits and targets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

MATCH_ULP = 1024.0  # as the output errors: autograd's rounding is tens of ulp at most
CASES = 400  # drawn (logit, target) entries per row


@dataclass(frozen=True)
class Link:
    """A distribution's likelihood paired with an output activation, and whether it is canonical."""

    distribution: str
    nll: str
    output: str
    canonical: bool


LINKS = (
    Link("gaussian", "½ (y − t)²", "identity", True),
    Link("bernoulli", "−t log y − (1 − t) log(1 − y)", "sigmoid", True),
    Link("categorical", "−Σ t log y", "softmax", True),
    Link("poisson", "y − t log y", "exp", True),
    Link("gaussian", "½ (y − t)²", "tanh", False),
    Link("bernoulli", "−t log y − (1 − t) log(1 − y)", "probit", False),
    Link("poisson", "y − t log y", "softplus", False),
)

_OUTPUT: dict[str, Callable[[np.ndarray], np.ndarray]] = {"identity": lambda a: a, "tanh": np.tanh,
           "sigmoid": lambda a: np.exp(-np.logaddexp(0.0, -a)),
           "softmax": lambda a: np.exp(a - a.max(axis=1, keepdims=True)
                                       - np.log(np.exp(a - a.max(axis=1, keepdims=True))
                                                .sum(axis=1, keepdims=True))),
           "exp": np.exp, "softplus": lambda a: np.logaddexp(0.0, a),
           "probit": lambda a: 0.5 * np.vectorize(math.erfc)(-a / math.sqrt(2))}


def draw(link: Link, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Logits a and targets t the distribution allows."""
    if link.distribution == "categorical":
        a = rng.normal(0, 2, (CASES // 4, 4))
        return a, rng.dirichlet(np.ones(4), size=len(a))
    a = rng.normal(0, 1.5, (CASES, 1))
    t = {"gaussian": lambda: rng.normal(0, 1, a.shape),
         "bernoulli": lambda: rng.uniform(0, 1, a.shape),
         "poisson": lambda: rng.poisson(2.0, a.shape).astype(float)}[link.distribution]()
    return a, t


def measure(link: Link, seed: int) -> dict[str, Any]:
    """Autograd's δ against y − t: worst deviation in ulp, and as a factor where they differ."""
    from deltacheck.oracles.output_layer import torch_nll_delta

    a, t = draw(link, np.random.default_rng([seed, LINKS.index(link)]))
    y = _OUTPUT[link.output](a)
    delta = torch_nll_delta(link.distribution, link.output, a, t)
    claim = y - t
    scale = np.maximum(np.maximum(np.abs(y), np.abs(t)), np.abs(delta))
    dev = np.abs(delta - claim) / np.spacing(scale)
    worst = float(dev.max()) if np.all(np.isfinite(dev)) else math.inf
    big = (np.abs(claim) > 1e-3) & (np.abs(delta) > 1e-300)  # a factor needs two sizable values
    ratio = np.abs(delta[big] / claim[big]) if big.any() else np.ones(1)
    factor = float(max(ratio.max(), 1 / ratio.min())) if np.all(np.isfinite(ratio)) else math.inf
    return {"distribution": link.distribution, "nll": link.nll, "output": link.output,
            "canonical": link.canonical, "cases": int(a.size), "max_dev_ulp": worst,
            "matches_y_minus_t": bool(worst <= MATCH_ULP), "factor_up_to": factor}


def run(seed: int) -> dict[str, Any]:
    """Every pairing measured."""
    return {"match_ulp": MATCH_ULP, "rows": [measure(link, seed) for link in LINKS]}


def claims(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Canonical pairings give y − t; the others do not."""
    out = []
    for row in doc["rows"]:
        name = f"{row['distribution']} likelihood with {row['output']} output"
        if row["canonical"]:
            out.append({"holds": bool(row["matches_y_minus_t"]),
                        "text": f"canonical links: {name} (its canonical link) gives δ = y − t "
                                f"to rounding ({row['max_dev_ulp']:.3g} ulp)"})
        else:
            out.append({"holds": not row["matches_y_minus_t"],
                        "text": f"canonical links: {name} (not canonical) does not give "
                                f"δ = y − t: off by a factor of up to {_factor(row['factor_up_to'])}"})
    return out


def _factor(x: float) -> str:
    """4.61, 7,036: a factor as a person reads it."""
    return f"{x:.3g}" if not math.isfinite(x) or x < 100 else f"{x:,.0f}"
