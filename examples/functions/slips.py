"""Seeded slips in custom backward passes: one realistic mistake each, for the selftest
(``deltacheck selftest --functions``) and benchmarks/bench_custom_backward.py.

``SLIPS`` maps a name to ``Slip(function, description)``: a torch.autograd.Function subclass
or a jax.custom_vjp function whose forward is right and whose backward carries the slip, with
its ``deltacheck_signature`` beside it. ``CORRECT`` holds the same functions done right.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import torch

DENSE = {"inputs": {"x": ("N", "D"), "w": ("D", "M"), "b": ("M",)}}
ROWS = {"inputs": {"x": ("N", "D")}, "sizes": {"N": (1, 4), "D": (2, 5)}}
SCALED = {"inputs": {"x": ("N", "D"), "s": ("D",)}}
PAIR = {"inputs": {"x": ("N", "D"), "y": ("N", "D")}}


class Slip(NamedTuple):
    """One seeded slip: the function and what its backward gets wrong."""

    function: Any
    description: str


def _function(name: str, signature: dict[str, Any], forward: Any, backward: Any) -> Any:
    """A torch.autograd.Function subclass called ``name`` from two static methods."""
    return type(name, (torch.autograd.Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward),
        "deltacheck_signature": signature})


# -- y = tanh(x w + b) -------------------------------------------------------------------------

def _dense_forward(ctx, x, w, b):
    y = torch.tanh(x @ w + b)
    ctx.save_for_backward(x, w, y)
    return y


def _dense_backward(ctx, g):
    x, w, y = ctx.saved_tensors
    da = (1 - y * y) * g  # ∂L/∂a = (1 − tanh² a) ∂L/∂y
    return da @ w.T, x.T @ da, da.sum(0)


def _dense_sign(ctx, g):
    x, w, y = ctx.saved_tensors
    da = (y * y - 1) * g
    return da @ w.T, x.T @ da, da.sum(0)


def _dense_reshaped(ctx, g):
    x, w, y = ctx.saved_tensors
    da = (1 - y * y) * g
    return da @ w.T, (da.T @ x).reshape(w.shape), da.sum(0)


def _dense_float32(ctx, g):
    x, w, y = ctx.saved_tensors
    da = (1 - y * y) * g
    # the products accumulate in float32 whatever the dtype of the inputs
    dx = (da.float() @ w.T.float()).to(x.dtype)
    dw = (x.T.float() @ da.float()).to(x.dtype)
    return dx, dw, da.sum(0)


def _dense_centres_saved(ctx, g):
    x, w, y = ctx.saved_tensors
    da = (1 - y * y) * g
    dx = da @ w.T
    x -= x.mean(0)  # centred in place for the weight gradient: the caller's x changes too
    return dx, x.T @ da, da.sum(0)


def _dense_scales_grad(ctx, g):
    x, w, y = ctx.saved_tensors
    da = g.mul_(1 - y * y)  # in place: the upstream gradient is overwritten
    return da @ w.T, x.T @ da, da.sum(0)


# -- y = x sin x ---------------------------------------------------------------------------------

def _xsin_forward(ctx, x):
    ctx.save_for_backward(x)
    return x * torch.sin(x)


def _xsin_backward(ctx, g):
    (x,) = ctx.saved_tensors
    return g * (torch.sin(x) + x * torch.cos(x))  # the product rule: both terms


def _xsin_missing_term(ctx, g):
    (x,) = ctx.saved_tensors
    return g * x * torch.cos(x)


# -- y = x exp(y') -------------------------------------------------------------------------------

def _pair_forward(ctx, x, y):
    e = torch.exp(y)
    ctx.save_for_backward(x, e)
    return x * e


def _pair_backward(ctx, g):
    x, e = ctx.saved_tensors
    return g * e, g * x * e


def _pair_swapped(ctx, g):
    x, e = ctx.saved_tensors
    return g * x * e, g * e


# -- y = s ⊙ x, s broadcast over the rows ------------------------------------------------------

def _scale_forward(ctx, x, s):
    ctx.save_for_backward(x, s)
    return x * s


def _scale_backward(ctx, g):
    x, s = ctx.saved_tensors
    return g * s, (g * x).sum(0)


def _scale_mean(ctx, g):
    x, s = ctx.saved_tensors
    return g * s, (g * x).mean(0)


# -- y = softmax(x) per row ----------------------------------------------------------------------

def _softmax_forward(ctx, x):
    y = torch.softmax(x, dim=1)
    ctx.save_for_backward(y)
    return y


def _softmax_backward(ctx, g):
    (y,) = ctx.saved_tensors
    return y * (g - (g * y).sum(1, keepdim=True))


def _softmax_no_keepdim(ctx, g):
    (y,) = ctx.saved_tensors
    return y * (g - (g * y).sum(1))  # (N,) broadcasts along the wrong axis


# -- y = softplus(x) -----------------------------------------------------------------------------

def _softplus_forward(ctx, x):
    ctx.save_for_backward(x)
    return torch.nn.functional.softplus(x)


def _softplus_backward(ctx, g):
    (x,) = ctx.saved_tensors
    return g * torch.sigmoid(x)


def _softplus_no_chain(ctx, g):
    (x,) = ctx.saved_tensors
    return torch.sigmoid(x)  # the local derivative, not multiplied by the upstream gradient


# -- y = gelu(x), tanh form ----------------------------------------------------------------------

C = math.sqrt(2 / math.pi)


def _gelu_forward(ctx, x):
    ctx.save_for_backward(x)
    return 0.5 * x * (1 + torch.tanh(C * (x + 0.044715 * x**3)))


def _gelu_backward(ctx, g):
    (x,) = ctx.saved_tensors
    t = torch.tanh(C * (x + 0.044715 * x**3))
    return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * C * (1 + 3 * 0.044715 * x**2))


def _gelu_cube_rule(ctx, g):
    (x,) = ctx.saved_tensors
    t = torch.tanh(C * (x + 0.044715 * x**3))
    return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * C * (1 + 0.044715 * x**2))


# -- jax ------------------------------------------------------------------------------------------

def _jax_scale(bwd: Any) -> Any:
    @jax.custom_vjp
    def softplus_scale(x, s):
        return s * jnp.logaddexp(0.0, x)

    softplus_scale.defvjp(lambda x, s: (softplus_scale(x, s), (x, s)), bwd)
    softplus_scale.deltacheck_signature = SCALED
    return softplus_scale


def _jax_bwd(res, g):
    x, s = res
    return g * s * jax.nn.sigmoid(x), jnp.sum(g * jnp.logaddexp(0.0, x), axis=0)


def _jax_bwd_sign(res, g):
    x, s = res
    return -g * s * jax.nn.sigmoid(x), jnp.sum(g * jnp.logaddexp(0.0, x), axis=0)


def _jax_bwd_mean(res, g):
    x, s = res
    return g * s * jax.nn.sigmoid(x), jnp.mean(g * jnp.logaddexp(0.0, x), axis=0)


def _jax_bwd_wrong_derivative(res, g):
    x, s = res
    return g * s * jax.nn.sigmoid(-x), jnp.sum(g * jnp.logaddexp(0.0, x), axis=0)


CORRECT = {
    "dense": _function("Dense", DENSE, _dense_forward, _dense_backward),
    "xsin": _function("XSin", {"inputs": {"x": ("N", "D")}}, _xsin_forward, _xsin_backward),
    "pair": _function("TimesExp", PAIR, _pair_forward, _pair_backward),
    "scale": _function("Scale", SCALED, _scale_forward, _scale_backward),
    "softmax": _function("Softmax", ROWS, _softmax_forward, _softmax_backward),
    "softplus": _function("Softplus", {"inputs": {"x": ("N", "D")}}, _softplus_forward,
                          _softplus_backward),
    "gelu": _function("GeluTanh", {"inputs": {"x": ("N", "D")}}, _gelu_forward, _gelu_backward),
    "jax_scale": _jax_scale(_jax_bwd),
}


def _slip(name: str, signature: dict[str, Any], forward: Any, backward: Any,
          description: str) -> Slip:
    return Slip(_function(name, signature, forward, backward), description)


SLIPS = {
    "dense_wrong_sign": _slip("DenseSign", DENSE, _dense_forward, _dense_sign,
                              "tanh' written as tanh² − 1: every gradient has the wrong sign"),
    "dense_dw_reshaped": _slip("DenseReshaped", DENSE, _dense_forward, _dense_reshaped,
                               "dw computed as daᵀ x (M, D) and reshaped to (D, M), not "
                               "transposed"),
    "dense_float32_accumulation": _slip(
        "DenseFloat32", DENSE, _dense_forward, _dense_float32,
        "dx and dw accumulate in float32 whatever the dtype of the inputs"),
    "dense_saved_input_modified": _slip(
        "DenseCentred", DENSE, _dense_forward, _dense_centres_saved,
        "the saved x is centred in place in backward, changing the caller's input"),
    "dense_grad_output_modified": _slip(
        "DenseInPlace", DENSE, _dense_forward, _dense_scales_grad,
        "grad_output multiplied in place (g.mul_), overwriting the upstream gradient"),
    "xsin_missing_term": _slip("XSinMissing", {"inputs": {"x": ("N", "D")}}, _xsin_forward,
                               _xsin_missing_term,
                               "the product rule's sin x term is missing"),
    "pair_grads_swapped": _slip("TimesExpSwapped", PAIR, _pair_forward, _pair_swapped,
                                "the gradients of x and y returned in each other's place"),
    "scale_mean_not_sum": _slip("ScaleMean", SCALED, _scale_forward, _scale_mean,
                                "the broadcast scale's gradient reduced by mean, not sum"),
    "softmax_sum_no_keepdim": _slip(
        "SoftmaxNoKeepdim", ROWS, _softmax_forward, _softmax_no_keepdim,
        "the row sum taken without keepdim: it broadcasts along the wrong axis"),
    "softplus_no_chain": _slip("SoftplusNoChain", {"inputs": {"x": ("N", "D")}},
                               _softplus_forward, _softplus_no_chain,
                               "the local derivative returned without the upstream gradient"),
    "gelu_cube_rule": _slip("GeluCube", {"inputs": {"x": ("N", "D")}}, _gelu_forward,
                            _gelu_cube_rule, "d(x³)/dx written as x², the factor 3 lost"),
    "jax_wrong_sign": Slip(_jax_scale(_jax_bwd_sign), "custom_vjp bwd: dx with the wrong sign"),
    "jax_mean_not_sum": Slip(_jax_scale(_jax_bwd_mean),
                             "custom_vjp bwd: the broadcast s reduced by mean, not sum"),
    "jax_sigmoid_of_minus_x": Slip(_jax_scale(_jax_bwd_wrong_derivative),
                                   "custom_vjp bwd: softplus' written as σ(−x)"),
}
