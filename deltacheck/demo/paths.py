"""The chain rule over paths: a hidden unit's δ sums one term for every unit it feeds.

    δ_j = Σ_k δ_k w_kj h′(a_j)

Each term is one path from unit j to the loss through unit k. torch autograd gives every δ
(it knows no recurrence); the terms are formed from its δ_k of the next layer, the weights and
the activation's hand-written h′, and their sum is measured against its δ_j, unit by unit. On a
student's code the same sum is formed from the student's δ_k and measured against the
student's δ_j: a slip in the recurrence breaks it in the layer where it sits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deltacheck.core import activations as registry
from deltacheck.core.case import Case
from deltacheck.reference_impl import LOSSES, forward

# The sum matches when it deviates from δ_j by no more than this many units of the last place
# of the largest magnitude it adds up; a missing path or h′ at the wrong place deviates by
# orders of magnitude more (the output errors use the same line).
MATCH_ULP = 1024.0
WIDTHS = (3, 4, 3, 2)  # unit 0 of the first hidden layer feeds three units
ACTIVATIONS = ("tanh", "tanh")


def network(seed: int) -> Case:
    """A small tanh network with one sample, weights of variance 1/fan-in."""
    rng = np.random.default_rng(seed)
    W = tuple(rng.normal(0, 1 / np.sqrt(WIDTHS[l]), (WIDTHS[l + 1], WIDTHS[l]))
              for l in range(len(WIDTHS) - 1))
    b = tuple(rng.normal(0, 0.1, n) for n in WIDTHS[1:])
    return Case(widths=WIDTHS, activations=ACTIVATIONS, loss="mse", dtype="float64", weights=W,
                biases=b, x=rng.normal(size=(1, WIDTHS[0])), t=rng.normal(size=(1, WIDTHS[-1])))


def pre_activations(case: Case) -> list[np.ndarray]:
    """a[l] of every layer (the forward pass only: no derivative is taken here)."""
    hidden = [registry.get(name) for name in case.activations]
    a, _ = forward(list(case.weights), list(case.biases), hidden, case.x, LOSSES[case.loss].output)
    return a


def terms(case: Case, deltas: Sequence[np.ndarray], layer: int) -> np.ndarray:
    """δ_k w_kj h′(a_j) for hidden layer ``layer``: shape (N, units k fed, units j)."""
    dh = registry.get(case.activations[layer]).dh(pre_activations(case)[layer], np)
    W_next = case.weights[layer + 1]
    return deltas[layer + 1][:, :, None] * W_next[None, :, :] * dh[:, None, :]


def measure(case: Case, deltas: Sequence[np.ndarray] | None) -> dict[str, Any]:
    """Every hidden unit's sum over paths against ``deltas`` (a δ per layer): worst in ulp.

    ``deltas`` None (not given, or the code raised) measures nothing, and nothing matches.
    """
    if deltas is None:
        return {"worst_ulp": float("nan"), "matches": False, "first": None, "layers": []}
    worst, first = 0.0, None
    layers: list[float] = []
    # in the backward pass's order, from the output side: the first layer that breaks is where
    # the slip sits, the layers below inherit its error
    for l in reversed(range(len(case.activations))):
        paths = terms(case, deltas, l)
        total = paths.sum(axis=1)
        scale = np.maximum(np.abs(paths).sum(axis=1), np.abs(deltas[l]))
        dev = np.abs(total - deltas[l]) / np.spacing(np.maximum(scale, np.finfo(float).tiny))
        dev = np.where(np.isfinite(dev), dev, np.inf)  # NaN never matches
        layer_worst = float(dev.max())
        layers.insert(0, layer_worst)
        if layer_worst > MATCH_ULP and first is None:
            n, j = np.unravel_index(int(np.argmax(dev)), dev.shape)
            first = {"layer": l, "unit": int(j), "sample": int(n), "delta": float(deltas[l][n, j]),
                     "sum_of_paths": float(total[n, j])}
        worst = max(worst, layer_worst)
    return {"worst_ulp": worst, "matches": bool(worst <= MATCH_ULP), "first": first,
            "layers": layers}


def example(case: Case, deltas: Sequence[np.ndarray], layer: int = 0, unit: int = 0
            ) -> dict[str, Any]:
    """One unit's paths written out: k, δ_k, w_kj, h′(a_j), the term; their sum; δ_j."""
    a = pre_activations(case)[layer][0, unit]
    dh = float(registry.get(case.activations[layer]).dh(np.array([a]), np)[0])
    rows = [{"k": k, "delta_k": float(deltas[layer + 1][0, k]),
             "w_kj": float(case.weights[layer + 1][k, unit]), "dh": dh,
             "term": float(terms(case, deltas, layer)[0, k, unit])}
            for k in range(case.widths[layer + 2])]
    return {"layer": layer + 1, "unit": unit, "a_j": float(a), "paths": rows,
            "sum": float(sum(r["term"] for r in rows)), "delta_j": float(deltas[layer][0, unit])}


def run(seed: int, student_deltas: Any = None) -> dict[str, Any]:
    """Autograd's δ against the sum over paths at every hidden unit; the student's too if given.

    ``student_deltas(case)`` returns the student's δ per layer, or None when it has none.
    """
    from deltacheck.oracles import torch_oracle

    case = network(seed)
    truth = torch_oracle.gradients(list(case.weights), list(case.biases),
                                   [registry.get(n) for n in case.activations], case.loss,
                                   case.x, case.t).deltas
    out: dict[str, Any] = {"widths": list(WIDTHS), "activations": list(ACTIVATIONS),
                           "match_ulp": MATCH_ULP, "autograd": measure(case, truth),
                           "example": example(case, truth)}
    if student_deltas is not None:
        theirs = student_deltas(case)
        out["yours"] = measure(case, theirs)
        if theirs is not None:
            out["your_example"] = example(case, theirs)
    return out


def claims(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """δ_j equals the sum over its paths, for autograd's δ (and the student's)."""
    found = doc["autograd"]
    out = [{"holds": bool(found["worst_ulp"] <= MATCH_ULP),
            "text": "chain rule over paths: every hidden δ_j equals Σ_k δ_k w_kj h′(a_j), "
                    f"autograd's δ on both sides (worst {found['worst_ulp']:.3g} ulp)"}]
    if "yours" in doc:
        yours = doc["yours"]
        where = ""
        if yours["first"]:
            f = yours["first"]
            where = (f" — hidden layer {f['layer'] + 1}, unit {f['unit']}: your δ_j = "
                     f"{f['delta']:.6g}, but the sum over its paths of your δ_k is "
                     f"{f['sum_of_paths']:.6g}")
        elif not yours["matches"]:
            where = " — your code gave no δ to measure"
        out.append({"holds": bool(yours["worst_ulp"] <= MATCH_ULP),
                    "text": "chain rule over paths on your δ: every hidden δ_j equals "
                            f"Σ_k δ_k w_kj h′(a_j){where}"})
    return out
