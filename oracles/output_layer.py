"""∂E/∂a of an output layer by autograd, for any pairing of a loss with an output activation.

torch autograd and jax grad differentiate the loss as written, E(g(a), t), with no formula for
δ in them: the truth the demo measures the lecture's formulas against. A pair is any object
with ``loss`` ("mse", "bce", "ce"), ``output`` ("identity", "sigmoid", "tanh", "softmax") and a
``key`` naming it. Everything is float64, and checked to be.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deltacheck.oracles.base import check_float64, one_torch_thread


def _log1m_softmax(a: Any, xp: Any, logsumexp: Callable[..., Any]) -> Any:
    """log(1 − y_k) = log Σ_{j≠k} e^{a_j} − log Σ_j e^{a_j}, finite even where y_k rounds to 1."""
    K = a.shape[1]
    others = xp.where(xp.eye(K, dtype=bool), -xp.inf, 0.0)  # mask out j = k
    return logsumexp(a[:, None, :] + others[None, :, :], -1) - logsumexp(a, -1)[:, None]


def torch_delta(pair: Any, a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """∂E/∂a by torch.autograd, float64."""
    with one_torch_thread():
        return _torch_delta(pair, a, t)


def _torch_delta(pair: Any, a: np.ndarray, t: np.ndarray) -> np.ndarray:
    import torch

    F = torch.nn.functional
    A = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    T = torch.tensor(t, dtype=torch.float64)
    if pair.output == "softmax":
        log_y = F.log_softmax(A, dim=1)
        log_1my = _log1m_softmax(A, torch, lambda v, d: torch.logsumexp(v, dim=d))
    else:
        log_y, log_1my = F.logsigmoid(A), F.logsigmoid(-A)
    if pair.loss == "mse":
        y = {"identity": A, "sigmoid": torch.sigmoid(A), "tanh": torch.tanh(A)}[pair.output]
        E = 0.5 * ((y - T) ** 2).sum()
    elif pair.loss == "bce":
        E = -(T * log_y + (1 - T) * log_1my).sum()
    else:
        E = -(T * log_y).sum()
    (delta,) = torch.autograd.grad(E, A)
    return delta.numpy().astype(np.float64, copy=True)


_JAX: dict[tuple[str, ...], Any] = {}
PAD_LOGIT = -1e30  # a padded softmax column: e^{a − max} is exactly 0, so every sum is unchanged
COLUMNS = 8  # every call is padded to (rows bucket, 8): one compilation serves every pair


def _jax_energy(pair: Any) -> Callable[..., Any]:
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp

    def energy(A: Any, T: Any, M: Any) -> Any:
        if pair.output == "softmax":
            log_y = jax.nn.log_softmax(A, axis=1)
            log_1my = _log1m_softmax(A, jnp, lambda v, d: logsumexp(v, axis=d))
        else:
            log_y, log_1my = jax.nn.log_sigmoid(A), jax.nn.log_sigmoid(-A)
        if pair.loss == "mse":
            y = {"identity": A, "sigmoid": jax.nn.sigmoid(A), "tanh": jnp.tanh(A)}
            return 0.5 * jnp.sum(M * (y[pair.output] - T) ** 2)
        if pair.loss == "bce":
            return -jnp.sum(M * (T * log_y + (1 - T) * log_1my))
        return -jnp.sum(M * T * log_y)

    return energy


def _jax_grad(pairs: tuple[Any, ...]) -> Any:
    """One compiled ∂E/∂a for all ``pairs``, the pair chosen by ``lax.switch`` on an index.

    jax compiles anew for every function and shape, and a compilation takes a second on a busy
    machine; one program with a branch per pair is compiled once.
    """
    key = tuple(p.key for p in pairs)
    if key not in _JAX:
        import jax

        grads = [jax.grad(_jax_energy(p)) for p in pairs]
        _JAX[key] = jax.jit(lambda i, A, T, M: jax.lax.switch(i, grads, A, T, M))
    return _JAX[key]


def _bucket(n: int) -> int:
    size = 256
    while size < n:
        size *= 2
    return size


def jax_delta(pair: Any, a: np.ndarray, t: np.ndarray, pairs: Sequence[Any] = ()) -> np.ndarray:
    """∂E/∂a by jax.grad, float64 (x64 switched on only for the call).

    The values are laid out in a (rows, 8) array padded with masked entries (masked out of E):
    elementwise outputs fill it entry by entry, softmax layers row by row with padded logits.
    """
    import jax

    pairs = tuple(pairs) or (pair,)
    N, K = a.shape
    if K > COLUMNS and pair.output == "softmax":
        raise ValueError(f"softmax layers of more than {COLUMNS} units are not supported here")
    A, T, M = np.zeros((3, _bucket(N if pair.output == "softmax" else -(-a.size // COLUMNS)),
                        COLUMNS))
    if pair.output == "softmax":
        A[:N] = PAD_LOGIT
        A[:N, :K], T[:N, :K], M[:N, :K] = a, t, 1.0
    else:
        A.reshape(-1)[:a.size], T.reshape(-1)[:a.size], M.reshape(-1)[:a.size] = a.ravel(), t.ravel(), 1
    index = [p.key for p in pairs].index(pair.key)
    with jax.enable_x64(True):
        out = np.asarray(jax.device_get(_jax_grad(pairs)(index, A, T, M)))
    check_float64("jax", [out])
    return out[:N, :K] if pair.output == "softmax" else out.reshape(-1)[:a.size].reshape(a.shape)


def torch_nll_delta(distribution: str, output: str, a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """∂E/∂a by torch.autograd of a distribution's negative log-likelihood E(g(a), t), float64.

    ``distribution``: "gaussian" (½ Σ (y − t)²), "bernoulli", "categorical" or "poisson"
    (Σ y − t log y); ``output`` g: "identity", "tanh", "sigmoid", "probit", "softmax", "exp",
    "softplus". log y is taken in log space where g allows, so saturated outputs stay finite.
    """
    with one_torch_thread():
        import torch

        F = torch.nn.functional
        A = torch.tensor(a, dtype=torch.float64, requires_grad=True)
        T = torch.tensor(t, dtype=torch.float64)
        log_y, log_1my = {
            "sigmoid": lambda: (F.logsigmoid(A), F.logsigmoid(-A)),
            "probit": lambda: (torch.special.log_ndtr(A), torch.special.log_ndtr(-A)),
            "softmax": lambda: (F.log_softmax(A, dim=1), None),
            "exp": lambda: (A, None),
            "softplus": lambda: (torch.log(F.softplus(A)), None),
        }.get(output, lambda: (None, None))()
        y = {"identity": lambda: A, "tanh": lambda: torch.tanh(A),
             "exp": lambda: torch.exp(A), "softplus": lambda: F.softplus(A)}.get(
            output, lambda: torch.exp(log_y))()
        if distribution == "gaussian":
            E = 0.5 * ((y - T) ** 2).sum()
        elif distribution == "bernoulli":
            E = -(T * log_y + (1 - T) * log_1my).sum()
        elif distribution == "categorical":
            E = -(T * log_y).sum()
        else:
            E = (y - T * log_y).sum()
        (delta,) = torch.autograd.grad(E, A)
        out = delta.detach().numpy()
        check_float64("torch", [out])
        return out.copy()
