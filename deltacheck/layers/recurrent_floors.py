"""The floor of a recurrent layer where its gates saturate.

A course backward computes the local derivatives from the forward's rounded values: 1 − h² from
h = tanh(a), i(1 − i) from i = σ(a). Where a unit saturates (h ≈ ±1) those derivatives are
tiny and carry an absolute rounding error of a few ε, which the relative perturbations of the
inputs behind ``truths.floors`` never show. Its effect is bounded by a few ε times the gradient
that |dout| makes when every local derivative is replaced by its bound (1, or |c| for the
gates that multiply the cell), propagated back through |Wx| and |Wh| and across the steps.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

GATED = ("rnn_step", "rnn", "lstm_step", "lstm")


def saturation_scale(kind: str, inputs: Mapping[str, np.ndarray],
                     dout: np.ndarray) -> dict[str, np.ndarray] | None:
    """Per gradient, entrywise bounds of what a unit-size error in each local derivative moves;
    None for the kinds without gates."""
    if kind not in GATED:
        return None
    x, Wx, Wh = (np.abs(np.asarray(inputs[n], np.float64)) for n in ("x", "Wx", "Wh"))
    hidden = "prev_h" if kind.endswith("_step") else "h0"
    h0 = np.abs(np.asarray(inputs[hidden], np.float64))
    steps = kind.endswith("_step")
    lstm = kind.startswith("lstm")
    if steps:
        x = x[:, None, :]
        d_h = np.abs(dout[0] if lstm else dout)[:, None, :]
        d_c = np.abs(dout[1]) if lstm else np.zeros_like(h0)
        c = np.abs(np.asarray(inputs["prev_c"], np.float64)) + 1 if lstm else None
    else:
        d_h, d_c = np.abs(dout), np.zeros_like(h0)
        c = x.shape[1] * np.ones_like(h0) if lstm else None  # |c_t| ≤ t from c_0 = 0
    N, T, _ = x.shape
    H = h0.shape[1]
    dx = np.zeros(x.shape)
    dWx, dWh, db = np.zeros(Wx.shape), np.zeros(Wh.shape), np.zeros(Wx.shape[1])
    carry_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dh = d_h[:, t, :] + carry_h
        if lstm:
            assert c is not None
            d_c = d_c + dh  # dc = dnext_c + dh o (1 − tanh² c), o and 1 − tanh² c ≤ 1
            da = np.hstack([d_c * np.maximum(c, 1.0)] * 3 + [dh])
        else:
            da = dh
        prev_h = h0 if t == 0 else np.ones((N, H))  # |h| ≤ 1 after a step
        dx[:, t, :] = da @ Wx.T
        carry_h = da @ Wh.T
        dWx += x[:, t, :].T @ da
        dWh += prev_h.T @ da
        db += da.sum(axis=0)
    grads = {"dx": dx[:, 0, :] if steps else dx, "dWx": dWx, "dWh": dWh, "db": db}
    grads["dprev_h" if steps else "dh0"] = carry_h
    if kind == "lstm_step":
        grads["dprev_c"] = d_c
    return grads
