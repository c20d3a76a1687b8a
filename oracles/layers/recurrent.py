"""Reference forwards of the recurrent kinds, written once against ``be.xp`` (course conventions).

  - h_t = tanh(x_t Wx + h_{t−1} Wh + b), x (N, T, D), Wx (D, H), Wh (H, H), h (N, T, H);
  - the LSTM's a = x_t Wx + h_{t−1} Wh + b (N, 4H) splits into the gates in the order i, f, o, g
    (torch's own LSTM uses i, f, g, o and stores Wx as (4H, D)); c_t = f c_{t−1} + i g,
    h_t = o tanh(c_t), and ``lstm`` starts from c_0 = 0;
  - lstm_step returns next_h and next_c stacked into one (2, N, H) output (``Kind.outputs``);
  - the sigmoid is evaluated on the side of 0 where it is accurate (1/(1 + e^{−a}) alone
    loses σ(−30) ≈ 1e−13 to cancellation in ½(1 + tanh(a/2)), and its autograd gives NaN at
    a ≈ −1000), so saturated gates keep their relative accuracy;
  - word_embedding gathers rows of W (V, D) by the integer words x (N, T), not differentiated;
  - temporal_softmax_loss sums −log softmax(x)[y] over the unmasked steps and divides by N.
"""

from __future__ import annotations

from typing import Any

from deltacheck.oracles.layers.definitions import Extras, _is_label


def _sigmoid(xp: Any, a: Any) -> Any:
    """σ(a) to full relative accuracy on both sides (e^a / (1 + e^a) below 0); each branch sees
    only the arguments it is taken for, so no inf · 0 reaches the autograd of the other."""
    zero = xp.zeros_like(a)
    above, below = xp.where(a >= 0, a, zero), xp.where(a < 0, a, zero)
    e = xp.exp(below)
    return xp.where(a >= 0, 1.0 / (1.0 + xp.exp(-above)), e / (1.0 + e))


def _rnn_cell(be: Any, x: Any, prev_h: Any, Wx: Any, Wh: Any, b: Any) -> Any:
    return be.xp.tanh(x @ Wx + prev_h @ Wh + b)


def _lstm_cell(be: Any, x: Any, prev_h: Any, prev_c: Any, Wx: Any, Wh: Any,
               b: Any) -> tuple[Any, Any]:
    xp = be.xp
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f = _sigmoid(xp, a[:, :H]), _sigmoid(xp, a[:, H:2 * H])
    o, g = _sigmoid(xp, a[:, 2 * H:3 * H]), xp.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g  # c_t = f ⊙ c_{t−1} + i ⊙ g
    return o * xp.tanh(next_c), next_c  # h_t = o ⊙ tanh(c_t)


def rnn_step(be: Any, x: Any, prev_h: Any, Wx: Any, Wh: Any, b: Any) -> tuple[Any, Extras]:
    """next_h = tanh(x Wx + prev_h Wh + b)."""
    return _rnn_cell(be, x, prev_h, Wx, Wh, b), {}


def rnn(be: Any, x: Any, h0: Any, Wx: Any, Wh: Any, b: Any) -> tuple[Any, Extras]:
    """h (N, T, H): the step run over the T steps of x from h0."""
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = _rnn_cell(be, x[:, t, :], h, Wx, Wh, b)
        hs.append(h)
    return be.xp.stack(hs, axis=1), {}


def lstm_step(be: Any, x: Any, prev_h: Any, prev_c: Any, Wx: Any, Wh: Any,
              b: Any) -> tuple[Any, Extras]:
    """(next_h, next_c) stacked into (2, N, H)."""
    next_h, next_c = _lstm_cell(be, x, prev_h, prev_c, Wx, Wh, b)
    return be.xp.stack([next_h, next_c], axis=0), {}


def lstm(be: Any, x: Any, h0: Any, Wx: Any, Wh: Any, b: Any) -> tuple[Any, Extras]:
    """h (N, T, H) from h0 and c0 = 0."""
    h, c, hs = h0, be.xp.zeros_like(h0), []
    for t in range(x.shape[1]):
        h, c = _lstm_cell(be, x[:, t, :], h, c, Wx, Wh, b)
        hs.append(h)
    return be.xp.stack(hs, axis=1), {}


def word_embedding(be: Any, W: Any, x: Any) -> tuple[Any, Extras]:
    """out[n, t] = W[x[n, t]]: a gather, whose gradient adds up over repeated words."""
    return W[x], {}


def temporal_affine(be: Any, x: Any, w: Any, b: Any) -> tuple[Any, Extras]:
    """out[n, t] = x[n, t] w + b."""
    return x @ w + b, {}


def temporal_softmax_loss(be: Any, x: Any, y: Any, mask: Any) -> tuple[Any, Extras]:
    """L = −(1/N) Σ_{n,t} mask[n, t] log softmax(x[n, t])[y[n, t]]."""
    xp = be.xp
    N, T, V = x.shape
    log_p = be.log_softmax(xp.reshape(x, (N * T, V)))
    picked = xp.sum(xp.where(_is_label(be, xp.reshape(y, (-1,)), V), log_p,
                             xp.zeros_like(log_p)), axis=1)
    return -xp.sum(xp.reshape(mask, (-1,)) * picked) / N, {}


GENERIC = {
    "rnn_step": rnn_step, "rnn": rnn, "lstm_step": lstm_step, "lstm": lstm,
    "word_embedding": word_embedding, "temporal_affine": temporal_affine,
    "temporal_softmax_loss": temporal_softmax_loss,
}
