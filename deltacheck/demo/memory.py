"""Memory: what backprop keeps for its backward pass, against what finite differences need.

Backprop's backward pass reads every pre-activation a and activation z of the forward pass, so
it keeps them all: about 2 N Σ_l n_l numbers, growing with depth. A finite difference needs only
E(p ± h): a forward pass may drop each layer once the next is computed, whatever the depth.
Both are measured as the peak of the memory allocated during one call (tracemalloc, which numpy
reports its arrays to), on networks of growing depth.
"""

from __future__ import annotations

import math
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from deltacheck.core import activations as registry
from deltacheck.core.words import plural
from deltacheck.reference_impl import LOSSES, backprop

DEPTHS, WIDTH, BATCH = (2, 4, 8, 16), 64, 64
GROWS = 4.0  # backprop's peak at the deepest network against the shallowest, at least
FLAT = 1.5  # the streaming forward's, at most


def peak_bytes(fn: Callable[[], Any]) -> int:
    """The most memory allocated at once while ``fn`` runs, above what was held before."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def streaming_energy(W: list[np.ndarray], b: list[np.ndarray], hidden: list[Any],
                     x: np.ndarray, t: np.ndarray) -> float:
    """E for a finite difference: each layer's z replaces the last, nothing is kept."""
    z = x
    for l in range(len(W) - 1):
        z = hidden[l].h(z @ W[l].T + b[l], np)
    return LOSSES["mse"].value(z @ W[-1].T + b[-1], t)


def measure(depth: int, rng: np.random.Generator) -> dict[str, Any]:
    """Peak bytes of one backprop call and of one forward pass for a finite difference."""
    widths = [WIDTH] * (depth + 2)
    W = [rng.normal(0, 1 / math.sqrt(WIDTH), (WIDTH, WIDTH)) for _ in range(depth + 1)]
    b = [np.zeros(WIDTH) for _ in range(depth + 1)]
    x, t = rng.normal(size=(BATCH, WIDTH)), rng.normal(size=(BATCH, WIDTH))
    hidden = [registry.get("tanh")] * depth
    names = ["tanh"] * depth
    stored = 2 * BATCH * sum(widths[1:]) * 8  # every a and z of the hidden and output layers
    return {"depth": depth, "params": sum(w.size for w in W) + sum(v.size for v in b),
            "stored_a_z_bytes": stored,
            "backprop_peak_bytes": peak_bytes(lambda: backprop(W, b, names, "mse", x, t)),
            "fd_peak_bytes": peak_bytes(lambda: streaming_energy(W, b, hidden, x, t))}


def run(seed: int) -> dict[str, Any]:
    """Every depth measured."""
    rng = np.random.default_rng(seed)
    return {"width": WIDTH, "batch": BATCH, "rows": [measure(d, rng) for d in DEPTHS]}


def claims(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Backprop's peak holds the stored a and z and grows with depth; fd's stays flat."""
    rows = doc["rows"]
    first, last = rows[0], rows[-1]
    holds_all = all(r["backprop_peak_bytes"] >= r["stored_a_z_bytes"] for r in rows)
    grows = last["backprop_peak_bytes"] / max(first["backprop_peak_bytes"], 1)
    flat = last["fd_peak_bytes"] / max(first["fd_peak_bytes"], 1)
    deep = last["backprop_peak_bytes"] / max(last["fd_peak_bytes"], 1)
    return [
        {"holds": bool(holds_all and grows >= GROWS),
         "text": f"memory: backprop's peak holds every stored a and z at each depth and grows "
                 f"{grows:.1f} times from {first['depth']} to {plural(last['depth'], 'layer')} "
                 f"(needed {GROWS:g})"},
        {"holds": bool(flat <= FLAT),
         "text": f"memory: a finite difference's forward pass needs the same memory at every "
                 f"depth ({flat:.2f} times from {first['depth']} to {plural(last['depth'], 'layer')}, "
                 f"needed at most {FLAT:g}); at {plural(last['depth'], 'layer')} backprop holds "
                 f"{deep:.0f} times as much"},
    ]
