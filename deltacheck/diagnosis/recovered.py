"""What a diagnosis can see of an implementation that does not provide every quantity.

Without δ, the walk starts from ∂W and ∂b, top layer down: δ[l] is read back from ∂b[l] where
N = 1 (∂b is then δ), else from ∂W[l] = δ[l]ᵀ z[l] where z[l] has rank N and is well
conditioned, else from [∂W[l] ∂b[l]] = δ[l]ᵀ [z[l] 1] (∂b adds the column of ones, so two
samples of a one-unit layer are enough); a layer where neither works keeps the truth's δ, and
the diagnosis says which it could not see.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def recover(ev: Any) -> list[np.ndarray]:
    """The δ of every layer as far as ∂W and ∂b show it; ``ev.recovered`` says from what."""
    deltas = list(ev.impl.deltas)
    for l in range(ev.L):
        z = ev.net.z[l]
        if ev.N == 1 and "grad_biases" in ev.seen:
            deltas[l] = np.asarray(ev.impl.grad_biases[l])[None, :].copy()
            ev.recovered[l] = f"∂b[{l}] (one sample: ∂b is δ)"
        elif "grad_weights" in ev.seen and bool(np.all(np.isfinite(z))):
            _from_grads(ev, l, z, deltas)
    return deltas


def _solvable(z: np.ndarray, N: int, dtype: str) -> bool:
    """Whether z (N rows) has rank N, well enough conditioned that the rounding of the
    implementation's ∂W, amplified by cond(z), stays far below what a diagnosis reads: a unit
    a hair from a kink (z ≈ 1e-13) gives a rank that lstsq reads as noise."""
    if N > z.shape[1]:
        return False
    s = np.linalg.svd(z, compute_uv=False)
    return bool(s[N - 1] > 0 and s[0] / s[N - 1] <= 1 / np.sqrt(np.finfo(dtype).eps))


def _from_grads(ev: Any, l: int, z: np.ndarray, deltas: list[np.ndarray]) -> None:
    """δ[l] from ∂W[l] = δᵀ z where z has rank N, else from ∂W and ∂b together."""
    known = np.asarray(ev.impl.grad_weights[l], dtype=float)
    text = f"∂W[{l}] = δᵀ z[{l}]"
    if not _solvable(z, ev.N, ev.case.dtype):
        if "grad_biases" not in ev.seen:
            return
        z = np.hstack([z, np.ones((ev.N, 1))])
        known = np.hstack([known, np.asarray(ev.impl.grad_biases[l], dtype=float)[:, None]])
        text = f"[∂W[{l}] ∂b[{l}]] = δᵀ [z[{l}] 1]"
        if not _solvable(z, ev.N, ev.case.dtype):
            return
    deltas[l] = np.linalg.lstsq(z.T, known.T, rcond=None)[0]
    ev.recovered[l] = f"{text} (of rank N)"


def own_delta(ev: Any, l: int) -> str:
    """How the δ[l] that a step is recomputed from was obtained, in words."""
    if "deltas" in ev.seen:
        return f"the implementation's own δ[{l}]"
    if l in ev.recovered:
        return f"δ[{l}] recovered from {ev.recovered[l]}"
    return f"the true δ[{l}] (δ is not provided)"


def unseen_text(ev: Any) -> str:
    """What the walk could not see of the implementation, or ""."""
    missing = [w for q, w in (("loss", "E"), ("deltas", "δ"), ("grad_weights", "∂W"),
                              ("grad_biases", "∂b")) if q not in ev.seen]
    if not missing:
        return ""
    text = f"not seen: {', '.join(missing)} (not provided or not checked)"
    if "deltas" in ev.seen:
        return text
    gone = [l for l in range(ev.L) if l not in ev.recovered]
    text += "; the walk starts from ∂W and ∂b, top layer down"
    if gone:
        text += f"; δ[{', '.join(map(str, gone))}] could not be recovered"
    return text
