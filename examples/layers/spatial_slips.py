"""Slipped convolution, pooling and spatial normalisation layers: one realistic mistake each.

Each function replaces one half of a layer in layers.py; its docstring says what went wrong.
slips.py puts them in the table with their kinds.
"""

import numpy as np


def _padded(x, pad):
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")


def conv_dx_ignores_stride(dout, cache):
    """conv backward scatters dx at (i, j) instead of (i·stride, j·stride): right for stride 1."""
    x, w, _, conv_param = cache
    s, pad = conv_param["stride"], conv_param["pad"]
    HH, WW = w.shape[2:]
    x_pad = _padded(x, pad)
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for n, f, i, j in np.ndindex(*dout.shape):
        dw[f] += x_pad[n, :, i * s:i * s + HH, j * s:j * s + WW] * dout[n, f, i, j]
        dx_pad[n, :, i:i + HH, j:j + WW] += w[f] * dout[n, f, i, j]
    dx = dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    return dx, dw, np.sum(dout, axis=(0, 2, 3))


def conv_dw_ignores_stride(dout, cache):
    """conv backward reads the window for dw at (i, j) instead of (i·stride, j·stride)."""
    x, w, _, conv_param = cache
    s, pad = conv_param["stride"], conv_param["pad"]
    HH, WW = w.shape[2:]
    x_pad = _padded(x, pad)
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for n, f, i, j in np.ndindex(*dout.shape):
        dw[f] += x_pad[n, :, i:i + HH, j:j + WW] * dout[n, f, i, j]
        dx_pad[n, :, i * s:i * s + HH, j * s:j * s + WW] += w[f] * dout[n, f, i, j]
    dx = dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    return dx, dw, np.sum(dout, axis=(0, 2, 3))


def conv_unpads_with_negative_index(dout, cache):
    """conv backward crops dx as dx_pad[..., pad:-pad]: empty when pad = 0."""
    x, w, _, conv_param = cache
    s, pad = conv_param["stride"], conv_param["pad"]
    HH, WW = w.shape[2:]
    x_pad = _padded(x, pad)
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for n, f, i, j in np.ndindex(*dout.shape):
        dw[f] += x_pad[n, :, i * s:i * s + HH, j * s:j * s + WW] * dout[n, f, i, j]
        dx_pad[n, :, i * s:i * s + HH, j * s:j * s + WW] += w[f] * dout[n, f, i, j]
    dx = dx_pad[:, :, pad:-pad, pad:-pad]
    return dx, dw, np.sum(dout, axis=(0, 2, 3))


def conv_db_averaged_over_batch(dout, cache):
    """conv backward averages db over the batch instead of summing it."""
    x, w, _, conv_param = cache
    s, pad = conv_param["stride"], conv_param["pad"]
    HH, WW = w.shape[2:]
    x_pad = _padded(x, pad)
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for n, f, i, j in np.ndindex(*dout.shape):
        dw[f] += x_pad[n, :, i * s:i * s + HH, j * s:j * s + WW] * dout[n, f, i, j]
        dx_pad[n, :, i * s:i * s + HH, j * s:j * s + WW] += w[f] * dout[n, f, i, j]
    dx = dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    return dx, dw, np.sum(dout, axis=(2, 3)).mean(axis=0)


def conv_dx_flips_the_kernel(dout, cache):
    """conv backward scatters dx with the kernel flipped, as if the forward were a convolution."""
    x, w, _, conv_param = cache
    s, pad = conv_param["stride"], conv_param["pad"]
    HH, WW = w.shape[2:]
    x_pad = _padded(x, pad)
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for n, f, i, j in np.ndindex(*dout.shape):
        dw[f] += x_pad[n, :, i * s:i * s + HH, j * s:j * s + WW] * dout[n, f, i, j]
        dx_pad[n, :, i * s:i * s + HH, j * s:j * s + WW] += w[f, :, ::-1, ::-1] * dout[n, f, i, j]
    dx = dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    return dx, dw, np.sum(dout, axis=(0, 2, 3))


def max_pool_overwrites(dout, cache):
    """max-pool backward writes dx instead of adding: wrong where overlapping windows share a max."""
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dout.shape):
        window = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
        k, l = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, i * s + k, j * s + l] = dout[n, c, i, j]
    return dx


def max_pool_forgets_the_mask(dout, cache):
    """max-pool backward adds each window's gradient to all of the window, not just its max."""
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dout.shape):
        dx[n, c, i * s:i * s + ph, j * s:j * s + pw] += dout[n, c, i, j]
    return dx


def max_pool_forgets_stride_in_dx(dout, cache):
    """max-pool backward adds to dx[i + k, j + l], forgetting the stride: right for stride 1."""
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dout.shape):
        window = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
        k, l = np.unravel_index(np.argmax(window), window.shape)
        dx[n, c, i + k, j + l] += dout[n, c, i, j]
    return dx


def spatial_batchnorm_without_transpose_forward(x, gamma, beta, bn_param, *, course):
    """spatial batch norm reshapes x (N, C, H, W) to (-1, C) without moving C last."""
    N, C, H, W = x.shape
    out, cache = course.batchnorm_forward(x.reshape(-1, C), gamma, beta, bn_param)
    return out.reshape(N, C, H, W), cache


def spatial_batchnorm_without_transpose_backward(dout, cache, *, course):
    """spatial batch norm reshapes (N, C, H, W) to (-1, C) without moving C last, as its forward."""
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = course.batchnorm_backward_alt(dout.reshape(-1, C), cache)
    return dx.reshape(N, C, H, W), dgamma, dbeta


def spatial_batchnorm_transposes_back_wrong(dout, cache, *, course):
    """spatial batch-norm backward turns dx back with transpose(0, 3, 2, 1): swaps H and W."""
    N, C, H, W = dout.shape
    dout_flat = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx_flat, dgamma, dbeta = course.batchnorm_backward_alt(dout_flat, cache)
    return dx_flat.reshape(N, W, H, C).transpose(0, 3, 2, 1), dgamma, dbeta


def _groupnorm_backward(dout, cache, *, variance_term=True, per_channel_count=False):
    x_hat, std, gamma, G = cache
    N, C, H, W = dout.shape
    dbeta = np.sum(dout, axis=(0, 2, 3), keepdims=True)
    dgamma = np.sum(dout * x_hat, axis=(0, 2, 3), keepdims=True)
    dx_hat = (dout * gamma).reshape(N, G, -1)
    x_hat = x_hat.reshape(N, G, -1)
    M = H * W if per_channel_count else x_hat.shape[2]
    dx = M * dx_hat - dx_hat.sum(axis=2, keepdims=True)
    if variance_term:
        dx -= x_hat * np.sum(dx_hat * x_hat, axis=2, keepdims=True)
    return (dx / (M * std)).reshape(N, C, H, W), dgamma, dbeta


def groupnorm_missing_variance_term(dout, cache):
    """group-norm backward drops the gradient through the variance (the x̂ Σ dx̂ x̂ term)."""
    return _groupnorm_backward(dout, cache, variance_term=False)


def groupnorm_counts_one_channel(dout, cache):
    """group-norm backward takes the group size as H·W, forgetting its C/G channels."""
    return _groupnorm_backward(dout, cache, per_channel_count=True)
