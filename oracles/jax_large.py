"""JAX grad at real size (``--widths 784,100,10``): the real widths, one compilation per network.

The bucketed path pads every layer to the widest, a square H × H per layer: at 3072-100-10 that
is five 4096 × 4096 matrices, 7 s and 4 GB a case. A campaign at real size checks one network,
so compiling it once at its own widths costs less. Only the batch is padded (to a power of two,
the padded samples repeating the first and masked out of E), so the drawn batch sizes share a
few compilations. The result is read the same way as the bucketed one's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deltacheck.core.gradients import Gradients
from deltacheck.oracles.base import check_float64, input_eps, kink_taint

LOSS_ORDER = ("mse", "bce", "ce", "mse_sigmoid", "mse_tanh")  # as jax_oracle's
LARGE = 64  # a network wider than this takes this path


def large(weights: Sequence[np.ndarray], x: np.ndarray) -> bool:
    """Whether the network is wide enough that padding it to a square bucket would cost more."""
    return max(x.shape[1], *(w.shape[0] for w in weights)) > LARGE


_COMPILED: dict[tuple[Any, ...], tuple[Any, tuple[Any, ...]]] = {}


def _compiled(activations: tuple[Any, ...], loss_index: int, frameworks: tuple[Any, Any],
              losses: Callable[[], list[Any]], branch: Callable[[Any], Any]) -> Any:
    """One jitted value-and-grad for these activations (by identity: a user's need not be
    hashable) and this loss; jit caches each network's shapes."""
    key = (*map(id, activations), loss_index)
    if key not in _COMPILED:  # the objects are kept alive beside it
        jax, jnp = frameworks
        _COMPILED[key] = (_value_and_grad(jax, jnp, losses()[loss_index],
                                          [branch(act) for act in activations]), activations)
    return _COMPILED[key][0]


def _value_and_grad(jax: Any, jnp: Any, loss: Any, branches: list[Any]) -> Any:
    def energy(W: Any, b: Any, p: Any, x: Any, t: Any, sample_mask: Any) -> Any:
        z, a_all, z_all = x, [], [x]
        for l, h in enumerate(branches):
            a = z @ W[l].T + b[l] + p[l]
            a_all.append(a)
            z = h(a)
            z_all.append(z)
        a = z @ W[-1].T + b[-1] + p[-1]
        a_all.append(a)
        E = loss(a, t, jnp.ones(a.shape[1]), sample_mask)
        return E, (a_all, z_all)

    return jax.jit(jax.value_and_grad(energy, argnums=(0, 1, 2), has_aux=True))


def start(W64: list[np.ndarray], b64: list[np.ndarray], x64: np.ndarray, t64: np.ndarray,
          activations: Sequence[Any], loss: str, weights: Sequence[np.ndarray],
          reach: Sequence[np.ndarray] | None, frameworks: tuple[Any, Any],
          losses: Callable[[], list[Any]], branch: Callable[[Any], Any]
          ) -> Callable[[], Gradients]:
    """Start the computation (``frameworks``: jax and jax.numpy; ``losses`` and ``branch``:
    the oracle's loss table and activation functions); the function returned waits for it and
    gives the real network's Gradients."""
    jax, jnp = frameworks
    N = len(x64)
    B = 1 << (N - 1).bit_length()  # the batch rounded up to a power of two
    xp, tp = np.repeat(x64[:1], B, axis=0), np.repeat(t64[:1], B, axis=0)
    xp[:N], tp[:N] = x64, t64
    mask = np.zeros(B)
    mask[:N] = 1.0
    compiled = _compiled(tuple(activations), LOSS_ORDER.index(loss), frameworks, losses, branch)
    with jax.enable_x64(True):
        p = [jnp.zeros((B, w.shape[0])) for w in W64]
        out = compiled(list(W64), list(b64), p, xp, tp, mask)

    def read() -> Gradients:
        (E, (a_all, z_all)), (gW, gb, gp) = jax.device_get(out)
        deltas = [np.array(d[:N]) for d in gp]
        grad_W, grad_b = [np.array(g) for g in gW], [np.array(g) for g in gb]
        check_float64("jax", [np.asarray(E), *deltas, *grad_W, *grad_b])
        a_real, z_real = [np.array(a[:N]) for a in a_all], [np.array(z[:N]) for z in z_all]
        return Gradients(loss=float(E), deltas=deltas, grad_weights=grad_W, grad_biases=grad_b,
                         unjudged=kink_taint(W64, a_real, z_real, activations, biases=b64,
                                             eps=input_eps(weights), reach=reach))

    return read
