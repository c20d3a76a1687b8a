"""What every oracle returns, and the kink bookkeeping they share."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

# The step and the kink slack are constants of the comparison rule, kept with the others.
from deltacheck.core.tolerances import FD_STEP, KINK_SLACK_FACTOR


class OracleUnavailable(RuntimeError):
    """The oracle's framework is not installed; the message says how to install it."""


class OracleError(RuntimeError):
    """An oracle could not produce trustworthy values for a case (for example a wrong dtype)."""


def kinks_of(act: Any) -> tuple[float, ...]:
    """The declared kinks of an activation object (none if it declares none)."""
    return tuple(float(k) for k in getattr(act, "kinks", ()) or ())


def input_eps(arrays: Sequence[Any]) -> float:
    """ε of the dtype the case came in (float32 cases are computed in float32 by the impl)."""
    dtype = np.result_type(*[np.asarray(v) for v in arrays])
    return float(np.finfo(dtype).eps) if np.issubdtype(dtype, np.floating) else 0.0


def near_kink(a: np.ndarray, act: Any, slack: np.ndarray | float = 0.0, *,
              step: float = FD_STEP) -> np.ndarray:
    """Where a pre-activation lies within ``step`` max(1, |a|) plus ``slack`` of a kink."""
    mask = np.zeros(a.shape, dtype=bool)
    for k in kinks_of(act):
        mask |= np.abs(a - k) <= step * np.maximum(1.0, np.abs(a)) + slack
    return mask


def _flat(a: np.ndarray, act: Any) -> np.ndarray:
    """Where h is exactly constant around a (a dead ReLU unit): there δ is 0 whatever flows in."""
    s = FD_STEP * np.maximum(1.0, np.abs(a))
    with np.errstate(all="ignore"):
        return (act.h(a + s, np) == act.h(a, np)) & (act.h(a - s, np) == act.h(a, np))


def rounding_reach(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
                   a: Sequence[np.ndarray], z: Sequence[np.ndarray],
                   activations: Sequence[Any]) -> list[np.ndarray]:
    """How far, in units of ε, rounding can move each pre-activation: the forward error sums.

    A[l] = (Z[l] + |z[l]|) |W[l]|ᵀ + |b[l]|, Z[l+1] = |h'| A[l] + |z[l+1]| + |a[l]|, with |h'|
    a one-step difference of h (a bound to a digit is enough), Z[0] = 0 (x is exact).
    """
    reach, Z = [], np.zeros_like(z[0])
    for l in range(len(weights)):
        A = (Z + np.abs(z[l])) @ np.abs(weights[l]).T + np.abs(biases[l])
        reach.append(A)
        if l < len(weights) - 1:
            s = FD_STEP * np.maximum(1.0, np.abs(a[l]))
            h = activations[l].h
            with np.errstate(all="ignore"):
                slope = np.abs(h(a[l] + s, np) - h(a[l] - s, np)) / (2 * s)
            Z = np.nan_to_num(slope, nan=1.0, posinf=1.0) * A + np.abs(z[l + 1]) + np.abs(a[l])
    return reach


def kink_taint(weights: Sequence[np.ndarray], a: Sequence[np.ndarray],
               z: Sequence[np.ndarray], activations: Sequence[Any], *,
               biases: Sequence[np.ndarray] | None = None, eps: float = 0.0,
               step: float = 0.0,
               reach: Sequence[np.ndarray] | None = None) -> dict[str, list[np.ndarray]]:
    """Masks of the entries whose value depends on h' at or near a kink.

    "Near" is the implementation's own rounding of a (KINK_SLACK_FACTOR ε times the sums that
    make it, for the dtype of ε), so that its a may sit on the other side of the kink; finite
    differences add their ``step``, which can straddle the kink. torch and jax are exact
    elsewhere and pass step = 0, so that the neighbourhood of a kink is judged. ``reach`` is
    ``rounding_reach`` of the case when the caller has it already (it bounds a to a digit, so
    any oracle's forward pass gives it); otherwise it is computed here, when a layer has kinks.

    The mask follows each entry's dependency: δ[l] of a sample is tainted when its own unit is
    near a kink, or when it reaches a tainted δ[l+1] through a non-zero weight and its own h'
    is not exactly 0 (a dead unit's δ is 0 whatever flows in); ∂W and ∂b are tainted through
    the tainted δ (and a non-zero z) they sum.
    """
    L = len(weights)
    n_samples = a[0].shape[0]
    # Only a layer with kinks starts a taint (the rest of the work is skipped where none is).
    slacked = bool(eps and biases is not None
                   and any(kinks_of(act) for act in activations[:L - 1]))
    if slacked and reach is None and biases is not None:  # (slacked implies biases)
        reach = rounding_reach(weights, biases, a, z, activations)
    tainted = [np.zeros((n_samples, w.shape[0]), dtype=bool) for w in weights]
    if not any(kinks_of(act) for act in activations[:L - 1]):  # nothing can be tainted
        return {"deltas": tainted,
                "grad_weights": [np.zeros(w.shape, dtype=bool) for w in weights],
                "grad_biases": [np.zeros(w.shape[0], dtype=bool) for w in weights]}
    for l in reversed(range(L - 1)):
        slack = KINK_SLACK_FACTOR * eps * reach[l] if slacked and reach is not None else 0.0
        tainted[l] = near_kink(a[l], activations[l], slack, step=step)
        if tainted[l + 1].any():
            downstream = (tainted[l + 1].astype(float) @ (weights[l + 1] != 0).astype(float)) > 0
            tainted[l] |= downstream & ~_flat(a[l], activations[l])
    grad_w = [(d.T.astype(float) @ (z[l] != 0).astype(float)) > 0 if d.any()
              else np.zeros((d.shape[1], z[l].shape[1]), dtype=bool)
              for l, d in enumerate(tainted)]
    grad_b = [np.asarray(d.any(axis=0)) for d in tainted]
    return {"deltas": tainted, "grad_weights": grad_w, "grad_biases": grad_b}


def as_float64(arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Exact float64 copies: a float32 case's values are represented exactly in float64."""
    return [np.array(v, dtype=np.float64) for v in arrays]


def check_float64(name: str, arrays: Sequence[Any]) -> None:
    """Refuse an oracle output that was silently computed in a narrower dtype."""
    for v in arrays:
        if np.asarray(v).dtype != np.float64:
            raise OracleError(f"the {name} oracle produced {np.asarray(v).dtype}, not float64")


# The non-canonical losses: the quadratic cost on the output y = g(a), g by name.
SQUASHED: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "mse_sigmoid": lambda a: np.exp(-np.logaddexp(0.0, -a)), "mse_tanh": np.tanh}


def loss_terms_magnitude(loss: str, a: np.ndarray, t: np.ndarray) -> float:
    """The absolute values of what evaluating E from the logits a adds up (for rounding bounds)."""
    return float(loss_terms_per_sample(loss, a, t).sum())


def loss_terms_per_sample(loss: str, a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``loss_terms_magnitude`` of each sample (row) alone."""
    if loss == "mse":
        return 0.5 * np.sum((np.abs(a) + np.abs(t)) ** 2, axis=1)
    if loss == "bce":  # E = Σ softplus(a) − t a
        return np.sum(np.abs(t * a) + np.logaddexp(0.0, np.abs(a)), axis=1)
    if loss in SQUASHED:  # E = ½ Σ (g(a) − t)², each g(a) good to ε |g(a)|
        return 0.5 * np.sum((np.abs(SQUASHED[loss](a)) + np.abs(t)) ** 2, axis=1)
    if loss != "ce":
        raise ValueError(f"unknown loss {loss!r}")
    top = a.max(axis=1, keepdims=True)  # ce: E = Σ_n [log Σ_k e^{a_k} − Σ_k t_k a_k]
    lse = top[:, 0] + np.log(np.exp(a - top).sum(axis=1))
    return np.sum(np.abs(t * a), axis=1) + np.abs(lse)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """torch on one intra-op thread for the block, then restored.

    On tensors this small, torch's intra-op threads only wait for each other, and stall for
    milliseconds whenever another process holds a core.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
