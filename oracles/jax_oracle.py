"""JAX grad in float64, compiled once per shape bucket instead of once per architecture.

``jax.grad`` differentiates E with respect to the weights, the biases and zero additive probes
on every pre-activation (so ∂E/∂p = δ). x64 is switched on only inside this oracle's calls,
with ``jax.enable_x64``, and every output is checked to be float64.

Speed. JAX compiles for every new shape, and Hypothesis draws new architectures all the time.
So every case is padded into one bucket (depth, width and batch rounded up), and each hidden
layer picks its activation with ``lax.switch`` on a traced index: one compilation then serves
every architecture, activation mix and batch size in the bucket. The padding is exact:
  - missing layers are identity layers (W = I, b = 0, h = identity) before the output layer,
    and multiplying by 1 and adding 0 are exact in floating point;
  - missing units have zero weights in and out, so they add exactly 0 to every real sum, and
    their activation is masked to 0 (evaluated on a real unit's value, so that an h which is
    not finite at 0 cannot leak a NaN);
  - missing samples repeat the first sample and, like missing output units, are masked out
    of E (for softmax, missing logits are pushed to −1e30, so their probabilities are 0).
The compiled code is kept in JAX's persistent cache between runs, and ``prepare`` compiles
(or loads) the smallest bucket on a thread while the command imports torch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deltacheck.core.gradients import Gradients
from deltacheck.oracles import jax_large
from deltacheck.oracles.base import as_float64, check_float64, input_eps, kink_taint
from deltacheck.oracles.jax_cache import jax_modules
from deltacheck.oracles.jax_padding import (
    LOSS_ORDER,
    input_shapes,
    inputs,
    pad,
    split,
    unpack,
)

name = "jax"



def _jax() -> tuple[Any, Any]:
    return jax_modules()




def _branch(act: Any) -> Any:
    jax, jnp = _jax()
    builtin = {
        "identity": lambda a: a,
        "tanh": jnp.tanh,
        "sigmoid": jax.nn.sigmoid,
        "relu": jax.nn.relu,
        "leaky_relu": lambda a: jax.nn.leaky_relu(a, negative_slope=0.01),
        "softplus": jax.nn.softplus,
        "elu": lambda a: jax.nn.elu(a, alpha=1.0),
        "gelu": lambda a: jax.nn.gelu(a, approximate=False),
        "silu": jax.nn.silu,
        "softsign": jax.nn.soft_sign,
    }
    from deltacheck.core.activations import BUILTINS

    if any(act is builtin_act for builtin_act in BUILTINS):
        return builtin[act.name]
    return lambda a: act.h(a, jnp)


def _losses() -> list[Any]:
    """E for each loss, in LOSS_ORDER, over masked (padded) logits and targets."""
    jax, jnp = _jax()

    def mse(a: Any, t: Any, out_mask: Any, sample_mask: Any) -> Any:
        mask = sample_mask[:, None] * out_mask[None, :]
        return 0.5 * jnp.sum(mask * (a - t) ** 2)

    def bce(a: Any, t: Any, out_mask: Any, sample_mask: Any) -> Any:
        mask = sample_mask[:, None] * out_mask[None, :]
        terms = t * jax.nn.log_sigmoid(a) + (1.0 - t) * jax.nn.log_sigmoid(-a)
        return -jnp.sum(mask * terms)

    def ce(a: Any, t: Any, out_mask: Any, sample_mask: Any) -> Any:
        mask = sample_mask[:, None] * out_mask[None, :]
        log_y = jax.nn.log_softmax(jnp.where(out_mask[None, :] > 0, a, -1e30), axis=-1)
        return -jnp.sum(mask * t * log_y)

    # The quadratic cost on a squashed output; a padded entry's a is finite (0, or a repeated
    # sample's), so the mask multiplies a finite term and its gradient by exactly 0.
    def mse_sigmoid(a: Any, t: Any, out_mask: Any, sample_mask: Any) -> Any:
        mask = sample_mask[:, None] * out_mask[None, :]
        return 0.5 * jnp.sum(mask * (jax.nn.sigmoid(a) - t) ** 2)

    def mse_tanh(a: Any, t: Any, out_mask: Any, sample_mask: Any) -> Any:
        mask = sample_mask[:, None] * out_mask[None, :]
        return 0.5 * jnp.sum(mask * (jnp.tanh(a) - t) ** 2)

    return [mse, bce, ce, mse_sigmoid, mse_tanh]



_COMPILED: dict[tuple[Any, ...], tuple[Any, tuple[Any, ...]]] = {}


def _compiled(branches: tuple[Any, ...]) -> Any:
    """One jitted value-and-grad per activation table; jit caches the buckets."""
    key = tuple(map(id, branches))  # by identity: a user's activation need not be hashable
    if key not in _COMPILED:
        _COMPILED[key] = (_value_and_grad(branches), branches)  # keeps the objects alive
    return _COMPILED[key][0]


def _value_and_grad(branches: tuple[Any, ...]) -> Any:
    jax, jnp = _jax()
    table = [_branch(act) for act in branches]
    losses = _losses()

    def hidden_layer(z: Any, layer: tuple[Any, ...]) -> tuple[Any, tuple[Any, Any]]:
        W_l, b_l, p_l, act_index, unit_mask = layer
        a = z @ W_l.T + b_l + p_l
        # h sees a real unit's value in the padded columns (then masked to 0), so an h which
        # is not finite at 0 cannot turn 0·NaN into NaN in the real sums.
        real = unit_mask[None, :] > 0
        h = jax.lax.switch(act_index, table, jnp.where(real, a, a[:, :1]))
        z = jnp.where(real, h, 0.0)
        return z, (a, z)

    def energy(W, b, p, x, t, act_index, unit_mask, out_mask, sample_mask, loss_index):
        # The hidden layers are one scanned body, not D − 1 unrolled copies of every
        # activation branch: that is what keeps the compilation small. The loss is a switch
        # too, so that one compilation serves every loss in LOSS_ORDER.
        z, (a_hidden, z_hidden) = jax.lax.scan(
            hidden_layer, x, (W[:-1], b[:-1], p[:-1], act_index, unit_mask[:-1]))
        a = z @ W[-1].T + b[-1] + p[-1]
        E = jax.lax.switch(loss_index, losses, a, t, out_mask, sample_mask)
        return E, (a_hidden, a, z_hidden)

    value_and_grad = jax.value_and_grad(energy, argnums=(0, 1, 2), has_aux=True)

    def packed(numbers: Any, integers: Any, D: int, H: int, B: int) -> Any:
        # Two flat arrays in (see inputs), one out (in PACKED order): a transfer each, not
        # ten and seven. The bucket's sizes are static, so the slicing here is free.
        W, b, x, t, unit_mask, out_mask, sample_mask = split(numbers, input_shapes(D, H, B))
        (E, (a_hidden, a_out, z_hidden)), (gW, gb, gp) = value_and_grad(
            W, b, jnp.zeros((D, B, H)), x, t, integers[:D - 1], unit_mask, out_mask,
            sample_mask, integers[D - 1])
        return jnp.concatenate([jnp.ravel(v) for v in (E, a_hidden, a_out, z_hidden, gW, gb, gp)])

    return jax.jit(packed, static_argnums=(2, 3, 4))


class Preparation:
    """A compilation ``prepare`` started on a thread: ``wait()`` for it to end."""

    def __init__(self, thread: threading.Thread) -> None:
        self._thread = thread

    def wait(self) -> None:
        """Wait for the compilation (at once if it has ended)."""
        self._thread.join()

    def running(self) -> bool:
        """Whether it is still compiling."""
        return self._thread.is_alive()


# Held while prepare's thread compiles: a call waits for it rather than compile the same
# function at the same time (a Lock, not state: it is free whenever nothing compiles).
_COMPILING = threading.Lock()


def prepare() -> Preparation | None:
    """Compile the built-in activations' function for the smallest bucket, on a thread.

    The command line calls this as soon as JAX imports: XLA compiles (or loads from the
    persistent cache) without holding the GIL, while the run imports torch and draws its first
    case. ``start`` waits for it, so that the same function is never compiled twice at once.
    Returns the compilation (None if one is running already); whoever started it waits for it
    before the process exits, since JAX's cache writes are not atomic.
    """
    jax, _ = _jax()
    if not _COMPILING.acquire(blocking=False):
        return None
    from deltacheck.core.activations import BUILTINS
    from deltacheck.core.activations import get as builtin

    table = tuple(BUILTINS)
    identity = next(i for i, act in enumerate(table) if act is builtin("identity"))
    one = [np.ones((1, 1))]
    padded = pad(one, [np.zeros(1)], np.zeros((1, 1)), np.zeros((1, 1)), [], identity, "mse")

    def compile_smallest_bucket() -> None:
        try:
            with jax.enable_x64(True):
                _compiled(table)(*inputs(padded)).block_until_ready()
        except Exception:  # the first real call reports the same failure
            pass
        finally:
            _COMPILING.release()

    thread = threading.Thread(target=compile_smallest_bucket, daemon=True)
    try:
        thread.start()
    except BaseException:
        _COMPILING.release()
        raise
    return Preparation(thread)


def compiled_functions() -> list[Any]:
    """The jitted functions made so far, one per activation table (for tests and benchmarks)."""
    return [fn for fn, _ in _COMPILED.values()]


def forget_compiled() -> None:
    """Drop the jitted functions made so far: the next call traces its function again."""
    _COMPILED.clear()


def gradients(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
              activations: Sequence[Any], loss: str, x: np.ndarray, t: np.ndarray, *,
              reach: Sequence[np.ndarray] | None = None) -> Gradients:
    """Loss, δ, ∂W and ∂b by jax.grad in float64 (``reach``: see base.kink_taint)."""
    return start(weights, biases, activations, loss, x, t, reach=reach)()


def start(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
          activations: Sequence[Any], loss: str, x: np.ndarray, t: np.ndarray, *,
          reach: Sequence[np.ndarray] | None = None) -> Callable[[], Gradients]:
    """Start ``gradients``; the function returned waits for the result and reads it.

    JAX computes asynchronously: the caller can run the other oracles meanwhile.
    """
    jax, _ = _jax()
    with _COMPILING:  # never the same function compiled twice at once
        pass
    from deltacheck.core.activations import BUILTINS
    from deltacheck.core.activations import get as builtin

    W64, b64 = as_float64(weights), as_float64(biases)
    x64, t64 = as_float64([x, t])
    # One fixed table (every built-in, then this case's own activations by name) keeps
    # one compilation for every mix of built-in activations.
    branches = list(BUILTINS)
    extra = [act for act in activations if not any(act is known for known in BUILTINS)]
    for act in sorted(extra, key=lambda act: act.name):
        if not any(act is known for known in branches):
            branches.append(act)
    act_index = [next(i for i, known in enumerate(branches) if known is act) for act in activations]
    identity = next(i for i, act in enumerate(branches) if act is builtin("identity"))
    if loss not in LOSS_ORDER:
        raise ValueError(f"unknown loss {loss!r}")
    if jax_large.large(W64, x64):  # a network at real size: its own widths, no square bucket
        return jax_large.start(W64, b64, x64, t64, activations, loss, weights, reach, _jax(),
                               _losses, _branch)
    padded = pad(W64, b64, x64, t64, act_index, identity=identity, loss=loss)
    with jax.enable_x64(True):
        flat = _compiled(tuple(branches))(*inputs(padded))
    return lambda: _read(flat, padded, W64, b64, x64, activations, weights, reach)


def _read(flat: Any, padded: tuple[np.ndarray, ...], W64: list[np.ndarray],
          b64: list[np.ndarray], x64: np.ndarray, activations: Sequence[Any],
          weights: Sequence[np.ndarray], reach: Sequence[np.ndarray] | None) -> Gradients:
    """The real network's values out of a bucket's packed result (waiting for it first)."""
    # One transfer to numpy, then numpy slicing: slicing jax arrays outside jit would
    # compile a small kernel for every new shape, which is what the padding avoids.
    host = np.asarray(flat)  # the transfer
    check_float64(name, [host])  # every output is in it
    D, B, H = padded[2].shape
    out = unpack(host, D, H, B)
    E, gW, gb, gp = out["E"], out["gW"], out["gb"], out["gp"]
    a_all = [*out["a_hidden"], out["a_out"]]
    z_all = [padded[3], *out["z_hidden"]]
    L, N = len(W64), len(x64)
    rows = [w.shape[0] for w in W64]
    cols = [w.shape[1] for w in W64]
    layer = [*range(L - 1), D - 1]  # where each real layer sits in the padded stack
    grad_W = [np.array(gW[k][:rows[l], :cols[l]]) for l, k in enumerate(layer)]
    grad_b = [np.array(gb[k][:rows[l]]) for l, k in enumerate(layer)]
    deltas = [np.array(gp[k][:N, :rows[l]]) for l, k in enumerate(layer)]
    a_real = [np.array(a_all[k][:N, :rows[l]]) for l, k in enumerate(layer)]
    z_real = [np.array(z_all[k][:N, :cols[l]]) for l, k in enumerate(layer)]
    return Gradients(loss=float(E), deltas=deltas, grad_weights=grad_W, grad_biases=grad_b,
                     unjudged=kink_taint(W64, a_real, z_real, activations, biases=b64,
                                         eps=input_eps(weights), reach=reach))
