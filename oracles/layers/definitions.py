"""Reference forwards written once against an array namespace ``be.xp`` (numpy, torch, jax.numpy).

Each takes the backend ``be`` (its ``xp`` and the few operations that differ between
frameworks), then the layer's inputs and parameters in the kind's order, and returns
``(out, extras)``. They follow the course code's conventions, not the frameworks':
  - batch norm divides by N (the biased variance) both to normalise and in the running
    statistics, and works for N = 1 (x̂ = 0), where torch.nn.functional.batch_norm refuses;
  - ReLU, the SVM hinge and the pooling maximum choose with ``where`` and ``argmax``, never
    with ``maximum`` or ``max``, whose autograd splits the gradient between tied entries;
  - max pooling sends the gradient of each window to its *first* maximal element in row-major
    order (``argmax``'s tie rule in numpy, torch and jax), as the course's naive loop does with
    ``np.argmax``; a loop that sends it to every tied element differs only on exact ties.
Where a framework has a native op with the same convention, the backend's ``native`` table
replaces the definition here (convolution has no generic definition).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deltacheck.core import activations as registry

Extras = dict[str, Any]


def affine(be: Any, x: Any, w: Any, b: Any) -> tuple[Any, Extras]:
    """out = x.reshape(N, D) w + b, D the product of x's trailing dimensions."""
    N = x.shape[0]
    return be.xp.reshape(x, (N, math.prod(x.shape[1:]))) @ w + b, {}


def elementwise(be: Any, x: Any, *, activation: str) -> tuple[Any, Extras]:
    """out = h(x) for the registered activation, as written once against xp."""
    return registry.get(activation).h(x, be.xp), {}


def _zeros_if_absent(be: Any, param: dict[str, Any], key: str, size: int) -> Any:
    value = param.get(key)
    return be.xp.zeros(size, dtype=be.xp.float64) if value is None else value


def _batch_normalised(be: Any, x: Any, bn_param: dict[str, Any],
                      axes: tuple[int, ...]) -> tuple[Any, Extras]:
    """x̂ over ``axes`` (axis 1 holds the channels) and the new running statistics."""
    xp = be.xp
    C = x.shape[1]
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    running_mean = _zeros_if_absent(be, bn_param, "running_mean", C)
    running_var = _zeros_if_absent(be, bn_param, "running_var", C)
    if bn_param["mode"] == "train":
        mean = xp.mean(x, axis=axes)
        # σ² = (1/N) Σ (x − μ)²: the biased variance, in x̂ and in the running average alike
        var = xp.mean((x - xp.reshape(mean, _channel_shape(x))) ** 2, axis=axes)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        mean, var = running_mean, running_var
    shape = _channel_shape(x)
    x_hat = (x - xp.reshape(mean, shape)) / xp.sqrt(xp.reshape(var, shape) + eps)
    return x_hat, {"running_mean": running_mean, "running_var": running_var}


def _channel_shape(x: Any) -> tuple[int, ...]:
    """The shape that broadcasts a per-channel vector (axis 1) against x."""
    return (x.shape[1],) + (1,) * (len(x.shape) - 2)


def batchnorm(be: Any, x: Any, gamma: Any, beta: Any,
              bn_param: dict[str, Any]) -> tuple[Any, Extras]:
    """out = γ x̂ + β, x̂ normalised per column over the batch (train) or by the running stats."""
    x_hat, extras = _batch_normalised(be, x, bn_param, axes=(0,))
    return gamma * x_hat + beta, extras


def spatial_batchnorm(be: Any, x: Any, gamma: Any, beta: Any,
                      bn_param: dict[str, Any]) -> tuple[Any, Extras]:
    """Batch norm of x (N, C, H, W) per channel over N, H and W; γ and β have shape (C,)."""
    x_hat, extras = _batch_normalised(be, x, bn_param, axes=(0, 2, 3))
    shape = _channel_shape(x)
    return be.xp.reshape(gamma, shape) * x_hat + be.xp.reshape(beta, shape), extras


def _normalised_rows(xp: Any, rows: Any, eps: float) -> Any:
    """Each row minus its mean, over the square root of its biased variance plus eps."""
    mean = xp.mean(rows, axis=-1, keepdims=True)
    var = xp.mean((rows - mean) ** 2, axis=-1, keepdims=True)
    return (rows - mean) / xp.sqrt(var + eps)


def layernorm(be: Any, x: Any, gamma: Any, beta: Any,
              ln_param: dict[str, Any]) -> tuple[Any, Extras]:
    """out = γ x̂ + β, each row of x (N, D) normalised over its D entries."""
    return gamma * _normalised_rows(be.xp, x, ln_param.get("eps", 1e-5)) + beta, {}


def spatial_groupnorm(be: Any, x: Any, gamma: Any, beta: Any, G: int,
                      gn_param: dict[str, Any]) -> tuple[Any, Extras]:
    """Group norm of x (N, C, H, W) over each sample's G groups of C/G channels × H × W."""
    xp = be.xp
    N, C, H, W = x.shape
    groups = xp.reshape(x, (N, G, (C // G) * H * W))
    x_hat = xp.reshape(_normalised_rows(xp, groups, gn_param.get("eps", 1e-5)), (N, C, H, W))
    return gamma * x_hat + beta, {}


def dropout(be: Any, x: Any, dropout_param: dict[str, Any], mask: Any) -> tuple[Any, Extras]:
    """Inverted dropout with the given mask (entries 0 or 1/p) in train mode; x in test mode."""
    return (x * mask if dropout_param["mode"] == "train" else x), {}


def _window_indices(size: int, window: int, stride: int) -> np.ndarray:
    """(out_size, window) indices: row i holds the positions that output i reads."""
    count = 1 + (size - window) // stride
    return stride * np.arange(count)[:, None] + np.arange(window)[None, :]


def max_pool(be: Any, x: Any, pool_param: dict[str, Any]) -> tuple[Any, Extras]:
    """Max pooling whose gradient goes to the first maximal element of each window."""
    xp = be.xp
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    rows = _window_indices(x.shape[2], ph, stride)  # (H', ph)
    cols = _window_indices(x.shape[3], pw, stride)  # (W', pw)
    # windows[n, c, i, j, k] = x[n, c, rows[i, k // pw], cols[j, k % pw]]: row-major in the window
    r = np.broadcast_to(rows[:, None, :, None], (len(rows), len(cols), ph, pw))
    c = np.broadcast_to(cols[None, :, None, :], (len(rows), len(cols), ph, pw))
    windows = x[:, :, be.index(r.reshape(len(rows), len(cols), ph * pw)),
                be.index(c.reshape(len(rows), len(cols), ph * pw))]
    first = xp.argmax(windows, axis=-1, keepdims=True)
    chosen = be.index(np.arange(ph * pw)) == first
    # the gather's gradient adds up where windows overlap; the where passes it to one entry
    return xp.sum(xp.where(chosen, windows, xp.zeros_like(windows)), axis=-1), {}


def _is_label(be: Any, y: Any, C: int) -> Any:
    """(N, C) booleans: True at each sample's correct class."""
    return be.xp.reshape(y, (-1, 1)) == be.xp.reshape(be.index(np.arange(C)), (1, C))


def softmax_loss(be: Any, x: Any, y: Any) -> tuple[Any, Extras]:
    """L = −(1/N) Σ_i log softmax(x_i)[y_i]."""
    xp = be.xp
    N, C = x.shape
    log_p = be.log_softmax(x)
    return -xp.sum(xp.where(_is_label(be, y, C), log_p, xp.zeros_like(log_p))) / N, {}


def svm_loss(be: Any, x: Any, y: Any) -> tuple[Any, Extras]:
    """L = (1/N) Σ_i Σ_{j≠y_i} max(0, x_ij − x_iy_i + 1), the multiclass hinge with margin 1."""
    xp = be.xp
    N, C = x.shape
    is_label = _is_label(be, y, C)
    correct = xp.sum(xp.where(is_label, x, xp.zeros_like(x)), axis=1, keepdims=True)
    margins = x - correct + 1.0
    # a margin of exactly 0 counts as inactive, as the course's (margins > 0) does
    active = (margins > 0) & ~is_label
    return xp.sum(xp.where(active, margins, xp.zeros_like(margins))) / N, {}


def numpy_log_softmax(x: np.ndarray) -> np.ndarray:
    """log softmax over axis 1, shifted by the row maximum so that exp cannot overflow."""
    shifted = x - np.max(x, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def numpy_conv(be: Any, x: np.ndarray, w: np.ndarray, b: np.ndarray,
               conv_param: dict[str, Any]) -> tuple[np.ndarray, Extras]:
    """Cross-correlation with zero padding on both sides and a stride, as the course defines it."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out)) + b[None, :, None, None]
    # out[n, f, i, j] = b_f + Σ_{c, k, l} w[f, c, k, l] padded[n, c, i·stride + k, j·stride + l]
    for k in range(HH):
        for l in range(WW):
            seen = padded[:, :, k:k + stride * (H_out - 1) + 1:stride,
                          l:l + stride * (W_out - 1) + 1:stride]
            out += np.einsum("nchw,fc->nfhw", seen, w[:, :, k, l])
    return out, {}


GENERIC = {
    "affine": affine,
    "batchnorm": batchnorm,
    "layernorm": layernorm,
    "dropout": dropout,
    "max_pool": max_pool,
    "spatial_batchnorm": spatial_batchnorm,
    "spatial_groupnorm": spatial_groupnorm,
    "softmax_loss": softmax_loss,
    "svm_loss": svm_loss,
}
