"""The lecture's worked example, in numbers: a two-layer tanh network with MSE, one sample.

Every quantity is computed here by its formula, line by line, and set beside torch autograd's
and jax grad's value of the same quantity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deltacheck.core import tolerances

# Small round numbers, so that a reader can follow them by hand.
X = np.array([0.5, -1.0])
T = np.array([1.0, 0.0])
W1 = np.array([[0.2, -0.4], [0.7, 0.1], [-0.5, 0.3]])  # w⁽¹⁾_ji: input i → hidden j
B1 = np.array([0.1, -0.2, 0.05])
W2 = np.array([[0.6, -0.3, 0.8], [-0.2, 0.5, 0.4]])    # w⁽²⁾_kj: hidden j → output k
B2 = np.array([0.0, 0.1])


def formulas(W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, x: np.ndarray,
             t: np.ndarray) -> dict[str, np.ndarray]:
    """Forward and backward by the lecture's equations (one sample, no batch axis)."""
    a1 = W1 @ x + b1                    # a⁽¹⁾_j = Σ_i w⁽¹⁾_ji x_i + b⁽¹⁾_j
    z1 = np.tanh(a1)                    # z_j = tanh(a⁽¹⁾_j)
    y = W2 @ z1 + b2                    # y_k = a⁽²⁾_k = Σ_j w⁽²⁾_kj z_j + b⁽²⁾_k
    E = 0.5 * np.sum((y - t) ** 2)      # E = ½ Σ_k (y_k − t_k)²
    d2 = y - t                          # δ⁽²⁾_k = y_k − t_k
    d1 = (1 - z1**2) * (W2.T @ d2)      # δ⁽¹⁾_j = (1 − z_j²) Σ_k w⁽²⁾_kj δ⁽²⁾_k
    return {"a1": a1, "z1": z1, "y": y, "E": np.array(E), "delta2": d2, "delta1": d1,
            "grad_W2": np.outer(d2, z1),  # ∂E/∂w⁽²⁾_kj = δ⁽²⁾_k z_j
            "grad_W1": np.outer(d1, x),   # ∂E/∂w⁽¹⁾_ji = δ⁽¹⁾_j x_i
            "grad_b2": d2, "grad_b1": d1}


STEPS = (
    ("delta2", "δ⁽²⁾_k = y_k − t_k"),
    ("delta1", "δ⁽¹⁾_j = (1 − z_j²) Σ_k w⁽²⁾_kj δ⁽²⁾_k"),
    ("grad_W2", "∂E/∂w⁽²⁾_kj = δ⁽²⁾_k z_j"),
    ("grad_W1", "∂E/∂w⁽¹⁾_ji = δ⁽¹⁾_j x_i"),
    ("grad_b2", "∂E/∂b⁽²⁾_k = δ⁽²⁾_k"),
    ("grad_b1", "∂E/∂b⁽¹⁾_j = δ⁽¹⁾_j"),
)


def _torch_values(params: Sequence[np.ndarray], x: np.ndarray, t: np.ndarray) -> dict[str, Any]:
    import torch

    W1, b1, W2, b2 = (torch.tensor(p, requires_grad=True) for p in params)
    # zero probes added to the pre-activations: ∂E/∂probe = ∂E/∂a = δ
    p1, p2 = (torch.zeros(n, dtype=torch.float64, requires_grad=True) for n in (3, 2))
    y = W2 @ torch.tanh(W1 @ torch.tensor(x) + b1 + p1) + b2 + p2
    E = 0.5 * torch.sum((y - torch.tensor(t)) ** 2)
    g = torch.autograd.grad(E, [W1, b1, W2, b2, p1, p2])
    return _named(float(E.detach()), [v.numpy() for v in g])


def _jax_values(params: Sequence[np.ndarray], x: np.ndarray, t: np.ndarray) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp

    def energy(W1: Any, b1: Any, W2: Any, b2: Any, p1: Any, p2: Any) -> Any:
        y = W2 @ jnp.tanh(W1 @ x + b1 + p1) + b2 + p2
        return 0.5 * jnp.sum((y - t) ** 2)

    with jax.enable_x64(True):
        E, g = jax.value_and_grad(energy, argnums=tuple(range(6)))(
            *map(jnp.asarray, params), jnp.zeros(3), jnp.zeros(2))
        return _named(float(E), [np.asarray(v, dtype=np.float64) for v in g])


def _named(E: float, g: Sequence[np.ndarray]) -> dict[str, Any]:
    gW1, gb1, gW2, gb2, d1, d2 = g
    return {"E": np.array(E), "delta2": d2, "delta1": d1, "grad_W2": gW2, "grad_W1": gW1,
            "grad_b2": gb2, "grad_b1": gb1}


AUTOGRAD = {"torch": _torch_values, "jax": _jax_values}


def _agree(mine: np.ndarray, theirs: np.ndarray, rtol: float) -> bool:
    size = float(np.max(np.abs(theirs))) if theirs.size else 0.0
    diff = np.abs(np.asarray(mine, float) - np.asarray(theirs, float))
    return bool(np.all(diff <= rtol * max(size, 1e-300)))  # nan never agrees


def run(oracle_names: Sequence[str] = ("torch", "jax"), *,
        values: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """The example's numbers beside each oracle's; ``values`` replaces the formulas' (for tests)."""
    mine = values if values is not None else formulas(W1, B1, W2, B2, X, T)
    theirs = {o: AUTOGRAD[o]((W1, B1, W2, B2), X, T) for o in oracle_names}
    rtol = max(tolerances.lookup(o, "float64").rtol for o in oracle_names)
    steps = []
    for key, text in (("E", "E = ½ Σ_k (y_k − t_k)²"), *STEPS):
        agree = {o: _agree(mine[key], theirs[o][key], rtol) for o in oracle_names}
        steps.append({"key": key, "formula": text, "value": np.asarray(mine[key]).tolist(),
                      **{o: theirs[o][key].tolist() for o in oracle_names},
                      "max_abs_diff": max(float(np.max(np.abs(mine[key] - theirs[o][key])))
                                          for o in oracle_names),
                      "agrees": all(agree.values())})
    return {"x": X.tolist(), "t": T.tolist(), "W1": W1.tolist(), "b1": B1.tolist(),
            "W2": W2.tolist(), "b2": B2.tolist(),
            "forward": {k: np.asarray(mine[k]).tolist() for k in ("a1", "z1", "y")},
            "oracles": list(oracle_names), "rtol": rtol, "steps": steps,
            "matches": all(s["agrees"] for s in steps)}
