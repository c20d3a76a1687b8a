"""A correct custom torch.autograd.Function with its signature declared beside it.

``deltacheck layer examples/functions/torch_functions.py:ScaledTanhLinear --as function``
draws x (N, D), w (D, M), b (M,) and checks the hand-written backward against central
differences of the forward (in float64) and torch autograd of the forward's own ops; with
``--double`` also its double backward (autograd through the backward against differences).
"""

from __future__ import annotations

from typing import ClassVar

import torch


class ScaledTanhLinear(torch.autograd.Function):
    """y = scale · tanh(x w + b)."""

    deltacheck_signature: ClassVar[dict] = {
        "inputs": {"x": ("N", "D"), "w": ("D", "M"), "b": ("M",)},
        "params": {"scale": [0.5, 2.0]}}

    @staticmethod
    def forward(ctx, x, w, b, scale):
        out = scale * torch.tanh(x @ w + b)
        # save inputs and outputs only: then the backward is itself differentiable (--double)
        ctx.save_for_backward(x, w, out)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, w, out = ctx.saved_tensors
        y = out / ctx.scale
        # ∂L/∂a = scale · (1 − tanh²(a)) · ∂L/∂y, a = x w + b
        da = ctx.scale * (1 - y * y) * grad_out
        return da @ w.T, x.T @ da, da.sum(0), None
