"""A correct jax.custom_vjp function with its signature declared beside it.

``deltacheck layer examples/functions/jax_functions.py:softplus_scale --as function`` draws
x (N, D) and s (D,) and checks the hand-written bwd against central differences of the forward
(in float64) and jax.vjp of the primal function.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.custom_vjp
def softplus_scale(x, s):
    """y = s · softplus(x), s broadcast over the rows of x."""
    return s * jnp.logaddexp(0.0, x)


def _fwd(x, s):
    return softplus_scale(x, s), (x, s)


def _bwd(res, g):
    x, s = res
    # ∂y/∂x = s σ(x); ∂y/∂s = softplus(x), summed over the rows that s was broadcast to
    return g * s * jax.nn.sigmoid(x), jnp.sum(g * jnp.logaddexp(0.0, x), axis=0)


softplus_scale.defvjp(_fwd, _bwd)
softplus_scale.deltacheck_signature = {"inputs": {"x": ("N", "D"), "s": ("D",)}}
