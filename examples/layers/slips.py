"""Seeded slips in course-style numpy layers: one realistic mistake each, for the selftest.

``SLIPS`` maps a name to ``Slip(kind, forward, backward, description)``: the slipped half of
the layer with the correct other half from layers.py (``backward`` is None for the losses,
whose ``forward`` returns ``(loss, dx)``). The description is the slipped function's docstring.
Dense and loss slips are written here; convolution, pooling and the spatial norms in
spatial_slips.py.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from deltacheck.oracles.layers import get_kind


def _sibling(name: str) -> ModuleType:
    """The module ``name``.py beside this file, loaded by path (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"deltacheck_examples_{name}",
                                                  Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


course = _sibling("layers")
spatial = _sibling("spatial_slips")


class Slip(NamedTuple):
    """One seeded slip: the layer kind, its forward and backward, and what went wrong."""

    kind: str
    forward: Callable[..., Any]
    backward: Callable[..., Any] | None
    description: str


def _slip(kind: str, *, forward: Callable | None = None, backward: Callable | None = None) -> Slip:
    """A Slip whose missing half is the correct one from layers.py."""
    k = get_kind(kind)
    slipped = backward or forward
    description = " ".join((getattr(slipped, "func", slipped).__doc__ or "").split())
    return Slip(kind, forward or getattr(course, k.forward_name),
                None if k.loss else backward or getattr(course, k.backward_names[0]), description)


def affine_dw_reshaped_not_transposed(dout, cache):
    """affine backward computes doutᵀ x, (M, D), and reshapes it to w's (D, M)."""
    x, w, _ = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = dout.T.dot(x.reshape(x.shape[0], -1)).reshape(w.shape)
    return dx, dw, np.sum(dout, axis=0)


def affine_db_averaged(dout, cache):
    """affine backward averages db over the batch instead of summing it."""
    x, w, _ = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    return dx, dw, np.mean(dout, axis=0)


def affine_dx_not_reshaped(dout, cache):
    """affine backward returns dx as (N, D), not reshaped back to x's (N, d1, ..., dk)."""
    x, w, _ = cache
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    return dout.dot(w.T), dw, np.sum(dout, axis=0)


def relu_masks_with_dout(dout, cache):
    """ReLU backward masks with dout > 0 instead of x > 0."""
    return dout * (dout > 0)


def relu_forgets_dout(dout, cache):
    """ReLU backward returns the mask x > 0 and forgets to multiply by dout."""
    x = cache
    return (x > 0).astype(dout.dtype)


def tanh_forward_caching_x(x):
    """tanh forward that caches its input (its backward then treats it as the output)."""
    return np.tanh(x), x


def tanh_derivative_of_the_input(dout, cache):
    """tanh backward computes 1 − x² from the cached input x instead of 1 − tanh(x)²."""
    x = cache
    return dout * (1 - x**2)


def sigmoid_forward(x):
    """σ(x), caching the output."""
    out = 1 / (1 + np.exp(-x))
    return out, out


def sigmoid_missing_one_minus(dout, cache):
    """sigmoid backward uses σ instead of σ (1 − σ)."""
    return dout * cache


def sigmoid_derivative_sign_flipped(dout, cache):
    """sigmoid backward uses σ (σ − 1), the derivative with its sign flipped."""
    return dout * cache * (cache - 1)


def batchnorm_missing_mean_term(dout, cache):
    """batch-norm backward (step by step) forgets the gradient through the batch mean."""
    x, x_hat, mu, std, gamma = cache
    N = dout.shape[0]
    dx_hat = dout * gamma
    xmu = x - mu
    dvar = -0.5 * np.sum(dx_hat * xmu, axis=0) / std**3
    dx = dx_hat / std + 2 * xmu * dvar / N
    return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)


def batchnorm_dgamma_from_x(dout, cache):
    """batch-norm backward sums dout · x for dgamma instead of dout · x̂."""
    x = cache[0]
    dx, _, dbeta = course.batchnorm_backward_alt(dout, cache)
    return dx, np.sum(dout * x, axis=0), dbeta


def batchnorm_variance_backward_unbiased(dout, cache):
    """batch-norm backward divides the variance's gradient by N − 1, the forward by N."""
    x, x_hat, mu, std, gamma = cache
    N = dout.shape[0]
    dx_hat = dout * gamma
    xmu = x - mu
    dvar = -0.5 * np.sum(dx_hat * xmu, axis=0) / std**3
    dxmu = dx_hat / std + 2 * xmu * dvar / (N - 1)
    dx = dxmu - np.sum(dxmu, axis=0) / N
    return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)


def layernorm_dgamma_wrong_axis(dout, cache):
    """layer-norm backward sums dgamma over the features (axis 1) instead of the batch."""
    x_hat = cache[0]
    dx, _, dbeta = course.layernorm_backward(dout, cache)
    return dx, np.sum(dout * x_hat, axis=1), dbeta


def layernorm_backward_over_the_batch(dout, cache):
    """layer-norm backward reuses batch norm's dx, with sums over the batch, not the features."""
    x_hat, std, gamma = cache
    N = dout.shape[0]
    dx_hat = dout * gamma
    dx = (N * dx_hat - dx_hat.sum(axis=0) - x_hat * np.sum(dx_hat * x_hat, axis=0)) / (N * std)
    return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)


def dropout_forward_boolean_mask(x, dropout_param):
    """dropout forward that keeps the 0/1 mask and scales the output by 1/p."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])  # noqa: NPY002 (the course seeds the global state)
    mask = np.random.rand(*x.shape) < p if mode == "train" else None  # noqa: NPY002
    out = x * mask / p if mode == "train" else x
    return out, (dropout_param, mask)


def dropout_backward_forgets_scale(dout, cache):
    """dropout backward multiplies by the 0/1 mask and forgets the 1/p of the forward."""
    dropout_param, mask = cache
    return dout * mask if dropout_param["mode"] == "train" else dout


def dropout_backward_draws_a_new_mask(dout, cache):
    """dropout backward draws a fresh mask instead of reusing the forward's."""
    dropout_param, _ = cache
    p = dropout_param["p"]
    if dropout_param["mode"] == "train":
        return dout * (np.random.rand(*dout.shape) < p) / p  # noqa: NPY002
    return dout


def dropout_backward_forgets_mask(dout, cache):
    """dropout backward divides by p but lets every unit through, dropped ones included."""
    dropout_param, _ = cache
    return dout / dropout_param["p"] if dropout_param["mode"] == "train" else dout


def softmax_dx_not_divided_by_n(x, y):
    """softmax loss averages the loss over N but not dx."""
    loss, dx = course.softmax_loss(x, y)
    return loss, dx * x.shape[0]


def softmax_forgets_minus_one(x, y):
    """softmax loss returns dx = p / N, forgetting to subtract 1 at the correct class."""
    shifted = x - np.max(x, axis=1, keepdims=True)
    probs = np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(x.shape[0]), y]))
    return loss, probs / x.shape[0]


def svm_dx_not_divided_by_n(x, y):
    """SVM loss averages the loss over N but not dx."""
    loss, dx = course.svm_loss(x, y)
    return loss, dx * x.shape[0]


def svm_marks_margins_ge_zero(x, y):
    """SVM loss marks margins >= 0 (true for every class after the max) instead of > 0."""
    N = x.shape[0]
    margins = np.maximum(0, x - x[np.arange(N), y][:, None] + 1.0)
    margins[np.arange(N), y] = 0
    dx = (margins >= 0).astype(x.dtype)
    dx[np.arange(N), y] -= np.sum(margins >= 0, axis=1)
    return np.sum(margins) / N, dx / N


def svm_correct_class_minus_one(x, y):
    """SVM loss subtracts 1 at the correct class instead of the number of active margins."""
    N = x.shape[0]
    margins = np.maximum(0, x - x[np.arange(N), y][:, None] + 1.0)
    margins[np.arange(N), y] = 0
    dx = (margins > 0).astype(x.dtype)
    dx[np.arange(N), y] -= 1
    return np.sum(margins) / N, dx / N


_with_course = {name: partial(getattr(spatial, name), course=course) for name in (
    "spatial_batchnorm_without_transpose_forward", "spatial_batchnorm_without_transpose_backward",
    "spatial_batchnorm_transposes_back_wrong")}


def affine_relu_skips_relu_backward(dout, cache):
    """affine_relu backward passes dout straight to the affine backward: the ReLU's is left out."""
    fc_cache, _ = cache
    return course.affine_backward(dout, fc_cache)


def conv_bn_relu_swaps_dgamma_dbeta(dout, cache):
    """conv_bn_relu backward returns dbeta where dgamma belongs, and dgamma for dbeta."""
    conv_cache, bn_cache, relu_cache = cache
    dan = course.relu_backward(dout, relu_cache)
    da, dgamma, dbeta = course.spatial_batchnorm_backward(dan, bn_cache)
    return (*course.conv_backward_naive(da, conv_cache), dbeta, dgamma)


SLIPS: dict[str, Slip] = {
    "affine_dw_reshaped_not_transposed": _slip("affine", backward=affine_dw_reshaped_not_transposed),
    "affine_db_averaged": _slip("affine", backward=affine_db_averaged),
    "affine_dx_not_reshaped": _slip("affine", backward=affine_dx_not_reshaped),
    "relu_masks_with_dout": _slip("relu", backward=relu_masks_with_dout),
    "relu_forgets_dout": _slip("relu", backward=relu_forgets_dout),
    "tanh_derivative_of_the_input": _slip("act:tanh", forward=tanh_forward_caching_x,
                                          backward=tanh_derivative_of_the_input),
    "sigmoid_missing_one_minus": _slip("act:sigmoid", forward=sigmoid_forward,
                                       backward=sigmoid_missing_one_minus),
    "sigmoid_derivative_sign_flipped": _slip("act:sigmoid", forward=sigmoid_forward,
                                             backward=sigmoid_derivative_sign_flipped),
    "batchnorm_missing_mean_term": _slip("batchnorm", backward=batchnorm_missing_mean_term),
    "batchnorm_dgamma_from_x": _slip("batchnorm", backward=batchnorm_dgamma_from_x),
    "batchnorm_variance_backward_unbiased": _slip(
        "batchnorm", backward=batchnorm_variance_backward_unbiased),
    "layernorm_dgamma_wrong_axis": _slip("layernorm", backward=layernorm_dgamma_wrong_axis),
    "layernorm_backward_over_the_batch": _slip("layernorm",
                                               backward=layernorm_backward_over_the_batch),
    "dropout_backward_forgets_scale": _slip("dropout", forward=dropout_forward_boolean_mask,
                                            backward=dropout_backward_forgets_scale),
    "dropout_backward_draws_a_new_mask": _slip("dropout",
                                               backward=dropout_backward_draws_a_new_mask),
    "dropout_backward_forgets_mask": _slip("dropout", backward=dropout_backward_forgets_mask),
    **{name: _slip("conv", backward=getattr(spatial, name)) for name in (
        "conv_dx_ignores_stride", "conv_dw_ignores_stride", "conv_unpads_with_negative_index",
        "conv_db_averaged_over_batch", "conv_dx_flips_the_kernel")},
    **{name: _slip("max_pool", backward=getattr(spatial, name)) for name in (
        "max_pool_overwrites", "max_pool_forgets_the_mask",
        "max_pool_forgets_stride_in_dx")},
    "spatial_batchnorm_without_transpose": _slip(
        "spatial_batchnorm", forward=_with_course["spatial_batchnorm_without_transpose_forward"],
        backward=_with_course["spatial_batchnorm_without_transpose_backward"]),
    "spatial_batchnorm_transposes_back_wrong": _slip(
        "spatial_batchnorm", backward=_with_course["spatial_batchnorm_transposes_back_wrong"]),
    "groupnorm_missing_variance_term": _slip("spatial_groupnorm",
                                             backward=spatial.groupnorm_missing_variance_term),
    "groupnorm_counts_one_channel": _slip("spatial_groupnorm",
                                          backward=spatial.groupnorm_counts_one_channel),
    "softmax_dx_not_divided_by_n": _slip("softmax_loss", forward=softmax_dx_not_divided_by_n),
    "softmax_forgets_minus_one": _slip("softmax_loss", forward=softmax_forgets_minus_one),
    "svm_dx_not_divided_by_n": _slip("svm_loss", forward=svm_dx_not_divided_by_n),
    "svm_marks_margins_ge_zero": _slip("svm_loss", forward=svm_marks_margins_ge_zero),
    "svm_correct_class_minus_one": _slip("svm_loss", forward=svm_correct_class_minus_one),
    # sandwich layers: the slip is in the composition, every inner layer is right
    "affine_relu_skips_relu_backward": _slip("affine_relu",
                                             backward=affine_relu_skips_relu_backward),
    "conv_bn_relu_swaps_dgamma_dbeta": _slip("conv_bn_relu",
                                             backward=conv_bn_relu_swaps_dgamma_dbeta),
}
