"""Seeded slips in course-style recurrent layers: one realistic mistake each.

``SLIPS`` maps a name to ``Slip(kind, forward, backward, description)``, the slipped half of a
layer with the correct other half from rnn_layers.py, as slips.py does for the other kinds;
``deltacheck selftest --layers examples/layers/rnn_slips.py`` runs them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from deltacheck.oracles.layers import get_kind

_spec = importlib.util.spec_from_file_location("deltacheck_examples_rnn_layers",
                                               Path(__file__).with_name("rnn_layers.py"))
rnn = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rnn)


class Slip(NamedTuple):
    """One seeded slip: the layer kind, its forward and backward, and what went wrong."""

    kind: str
    forward: Callable[..., Any]
    backward: Callable[..., Any] | None
    description: str


def _slip(kind: str, *, forward: Callable | None = None, backward: Callable | None = None) -> Slip:
    k = get_kind(kind)
    slipped = backward or forward
    description = " ".join((slipped.__doc__ or "").split())
    return Slip(kind, forward or getattr(rnn, k.forward_name),
                None if k.loss else backward or getattr(rnn, k.backward_names[0]), description)


def _rnn_backward(dh, cache, *, carry=True, last=True, accumulate=True):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        upstream = (dh[:, t, :] if last or t < T - 1 else 0) + (dprev_h if carry else 0)
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = rnn.rnn_step_backward(upstream, cache[t])
        if accumulate:
            dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
        else:
            dWx, dWh, db = dWx_t, dWh_t, db_t
    return dx, dprev_h, dWx, dWh, db


def rnn_backward_hidden_not_carried(dh, cache):
    """rnn backward feeds each step only dh[:, t], not the gradient from the step after it."""
    return _rnn_backward(dh, cache, carry=False)


def rnn_backward_drops_last_dh(dh, cache):
    """rnn backward starts the loop with the carried gradient only, dropping dh at t = T − 1."""
    return _rnn_backward(dh, cache, last=False)


def rnn_backward_weights_overwritten(dh, cache):
    """rnn backward writes dWx, dWh, db of each step instead of adding them up over time."""
    return _rnn_backward(dh, cache, accumulate=False)


def rnn_step_backward_derivative_of_a(dnext_h, cache):
    """rnn step backward takes tanh's derivative as 1 − h instead of 1 − h²."""
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h)
    return da.dot(Wx.T), da.dot(Wh.T), x.T.dot(da), prev_h.T.dot(da), da.sum(axis=0)


def _lstm_step_backward(dnext_h, dnext_c, cache, *, torch_order=False, f_path=True):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tanh_c = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    di, df = dc * g * i * (1 - i), dc * prev_c * f * (1 - f)
    do, dg = dnext_h * tanh_c * o * (1 - o), dc * i * (1 - g ** 2)
    da = np.hstack([di, df, dg, do] if torch_order else [di, df, do, dg])
    return (da.dot(Wx.T), da.dot(Wh.T), dc * f if f_path else dc, x.T.dot(da),
            prev_h.T.dot(da), da.sum(axis=0))


def lstm_step_backward_gates_ifgo(dnext_h, dnext_c, cache):
    """lstm step backward stacks the gate gradients in torch's order i, f, g, o, not i, f, o, g."""
    return _lstm_step_backward(dnext_h, dnext_c, cache, torch_order=True)


def lstm_step_backward_dprev_c_without_f(dnext_h, dnext_c, cache):
    """lstm step backward returns dprev_c = dc, missing the forget gate f on the cell's path."""
    return _lstm_step_backward(dnext_h, dnext_c, cache, f_path=False)


def lstm_backward_cell_not_carried(dh, cache):
    """lstm backward passes dnext_c = 0 to every step: the cell's gradient is not carried back."""
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, _, dWx_t, dWh_t, db_t = rnn.lstm_step_backward(
            dh[:, t, :] + dprev_h, np.zeros((N, H)), cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db


def word_embedding_backward_assigns(dout, cache):
    """word embedding backward writes dW[x] = dout: a repeated word keeps only its last gradient."""
    x, shape = cache
    dW = np.zeros(shape)
    dW[x] = dout
    return dW


def temporal_affine_db_last_step(dout, cache):
    """temporal affine backward sums db over the batch of the last step only."""
    dx, dw, _ = rnn.temporal_affine_backward(dout, cache)
    return dx, dw, dout[:, -1, :].sum(axis=0)


def temporal_softmax_loss_ignores_mask_in_dx(x, y, mask):
    """temporal softmax loss masks the loss but not dx: padded steps get a gradient."""
    loss, _ = rnn.temporal_softmax_loss(x, y, mask)
    _, dx = rnn.temporal_softmax_loss(x, y, np.ones_like(mask))
    return loss, dx


def temporal_softmax_loss_not_divided_by_n(x, y, mask):
    """temporal softmax loss divides the loss by N but leaves dx summed over the batch."""
    loss, dx = rnn.temporal_softmax_loss(x, y, mask)
    return loss, dx * x.shape[0]


SLIPS: dict[str, Slip] = {
    "rnn_backward_hidden_not_carried": _slip("rnn", backward=rnn_backward_hidden_not_carried),
    "rnn_backward_drops_last_dh": _slip("rnn", backward=rnn_backward_drops_last_dh),
    "rnn_backward_weights_overwritten": _slip("rnn", backward=rnn_backward_weights_overwritten),
    "rnn_step_backward_one_minus_h": _slip("rnn_step",
                                           backward=rnn_step_backward_derivative_of_a),
    "lstm_step_backward_gates_ifgo": _slip("lstm_step", backward=lstm_step_backward_gates_ifgo),
    "lstm_step_backward_dprev_c_without_f": _slip(
        "lstm_step", backward=lstm_step_backward_dprev_c_without_f),
    "lstm_backward_cell_not_carried": _slip("lstm", backward=lstm_backward_cell_not_carried),
    "word_embedding_backward_assigns": _slip("word_embedding",
                                             backward=word_embedding_backward_assigns),
    "temporal_affine_db_last_step": _slip("temporal_affine", backward=temporal_affine_db_last_step),
    "temporal_softmax_loss_ignores_mask_in_dx": _slip(
        "temporal_softmax_loss", forward=temporal_softmax_loss_ignores_mask_in_dx),
    "temporal_softmax_loss_not_divided_by_n": _slip(
        "temporal_softmax_loss", forward=temporal_softmax_loss_not_divided_by_n),
}
