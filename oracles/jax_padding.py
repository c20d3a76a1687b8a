"""Padding a case into the jax oracle's shape bucket, and packing its inputs and outputs.

The padding is exact (see ``deltacheck.oracles.jax_oracle``): identity layers, zero weights in
and out of missing units, masked samples and outputs. Inputs go to the compiled function as
two flat arrays and its results come back as one, a transfer each.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

MIN_DEPTH, MIN_WIDTH, MIN_BATCH = 5, 16, 16  # one bucket covers the default strategies,
# their occasional wide layer and large batch (up to 16) included: padding costs less than a compile
LOSS_ORDER = ("mse", "bce", "ce", "mse_sigmoid", "mse_tanh")


def _bucket(n: int, smallest: int) -> int:
    """Round up to ``smallest`` or the next power of two above it."""
    size = smallest
    while size < n:
        size *= 2
    return size


def input_shapes(D: int, H: int, B: int) -> list[tuple[int, ...]]:
    """W, b, x, t, unit_mask, out_mask, sample_mask of a bucket, in the order _inputs packs."""
    return [(D, H, H), (D, H), (B, H), (B, H), (D, H), (H,), (B,)]


def split(flat: Any, shapes: Sequence[tuple[int, ...]]) -> list[Any]:
    """Consecutive pieces of a flat array in the given shapes (numpy or jax)."""
    out, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        out.append(flat[start:start + size].reshape(shape))
        start += size
    return out


def inputs(padded: tuple[np.ndarray, ...]) -> tuple[Any, ...]:
    """``_pad``'s ten arrays as the compiled function takes them: floats, integers, D, H, B."""
    W, b, p, x, t, act_index, unit_mask, out_mask, sample_mask, loss_index = padded
    D, B, H = p.shape
    numbers = np.concatenate([v.ravel() for v in (W, b, x, t, unit_mask, out_mask, sample_mask)])
    integers = np.empty(len(act_index) + 1, dtype=np.int32)
    integers[:-1], integers[-1] = act_index, loss_index
    return numbers, integers, D, H, B


PACKED = ("E", "a_hidden", "a_out", "z_hidden", "gW", "gb", "gp")


def unpack(flat: np.ndarray, D: int, H: int, B: int) -> dict[str, np.ndarray]:
    """The packed output of a bucket (depth D, width H, batch B) as named numpy views."""
    shapes = {"E": (), "a_hidden": (D - 1, B, H), "a_out": (B, H), "z_hidden": (D - 1, B, H),
              "gW": (D, H, H), "gb": (D, H), "gp": (D, B, H)}
    return dict(zip(PACKED, split(flat, [shapes[key] for key in PACKED]), strict=True))


@functools.cache
def eye(n: int) -> np.ndarray:
    """The n × n identity (read-only: only ever copied from)."""
    eye = np.eye(n)
    eye.setflags(write=False)
    return eye


def pad(weights: list[np.ndarray], biases: list[np.ndarray], x: np.ndarray, t: np.ndarray,
         act_index: list[int], identity: int, loss: str) -> tuple[np.ndarray, ...]:
    L = len(weights)
    widths = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    D, H, B = _bucket(L, MIN_DEPTH), _bucket(max(widths), MIN_WIDTH), _bucket(len(x), MIN_BATCH)
    W, b = np.zeros((D, H, H)), np.zeros((D, H))
    for l in range(L - 1):
        W[l, :widths[l + 1], :widths[l]] = weights[l]
        b[l, :widths[l + 1]] = biases[l]
    W[L - 1:D - 1] = eye(H)  # identity layers carry the last hidden z to the output
    W[D - 1, :widths[L], :widths[L - 1]] = weights[L - 1]
    b[D - 1, :widths[L]] = biases[L - 1]
    # Padded samples repeat the first one (then masked out of E), so that every value any
    # activation sees is one the real network produces.
    xp, tp = np.zeros((B, H)), np.zeros((B, H))
    xp[:, :widths[0]] = x[0]
    xp[:len(x), :widths[0]] = x
    tp[:, :widths[L]] = t[0]
    tp[:len(t), :widths[L]] = t
    unit_mask = np.zeros((D, H))
    for l in range(D - 1):
        unit_mask[l, :widths[min(l + 1, L - 1)]] = 1.0
    index = np.full(D - 1, identity, dtype=np.int32)
    index[:L - 1] = act_index
    out_mask = np.zeros(H)
    out_mask[:widths[L]] = 1.0
    sample_mask = np.zeros(B)
    sample_mask[:len(x)] = 1.0
    return (W, b, np.zeros((D, B, H)), xp, tp, index, unit_mask, out_mask, sample_mask,
            np.int32(LOSS_ORDER.index(loss)))
