"""A custom deltacheck.Layer: the forward written once against xp, the backward by hand.

``deltacheck layer examples/functions/custom_layers.py`` finds the Layer objects in the file
and checks each backward against torch autograd and jax.vjp of the xp forward, and central
differences of the layer's own forward.
"""

from __future__ import annotations

import numpy as np

import deltacheck


def rms_scale_forward(x, g, eps, xp):
    """out = g · x / sqrt(mean(x², axis=1) + eps): RMS normalisation of each row, scaled."""
    r = xp.sqrt(xp.mean(x * x, axis=1, keepdims=True) + eps)
    return g * x / r


def rms_scale_backward(dout, cache):
    """(dx, dg) of rms_scale, from the cache the default forward keeps: (x, g, eps)."""
    x, g, eps = cache
    D = x.shape[1]
    r = np.sqrt(np.mean(x * x, axis=1, keepdims=True) + eps)
    dxhat = dout * g
    # ∂out/∂x: g/r minus the path through r, ∂r/∂x = x / (D r)
    dx = dxhat / r - x * np.sum(dxhat * x, axis=1, keepdims=True) / (D * r**3)
    dg = np.sum(dout * x / r, axis=0)
    return dx, dg


rms_scale = deltacheck.Layer(
    "rms_scale", forward=rms_scale_forward, inputs={"x": ("N", "D"), "g": ("D",)},
    params={"eps": [1e-5, 1e-3]}, backward=rms_scale_backward)
