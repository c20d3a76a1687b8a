"""Implementations whose results depend on earlier calls, or on chance: the tuning examples of
the re-checks (each keeps its state in a closure, so every import starts fresh)."""

from __future__ import annotations

from typing import Any

import numpy as np

from deltacheck import reference_impl


def _counting() -> Any:
    calls = {"n": 0}

    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        out = reference_impl.backprop(weights, biases, activations, loss, x, t)
        calls["n"] += 1
        if calls["n"] > 3:  # a warm-up that switches on a wrong scale after three calls
            out["grad_biases"] = [1.5 * g for g in out["grad_biases"]]
        return out
    return backprop


def _last_result() -> Any:
    last: dict[str, Any] = {}

    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        out = reference_impl.backprop(weights, biases, activations, loss, x, t)
        prev = last.get("out")
        last["out"] = out
        if prev is not None and all(np.shape(p) == np.shape(q) for p, q in
                                    zip(prev["deltas"], out["deltas"], strict=True)):
            # the output δ of the previous call, where shapes allow: a buffer not refreshed
            out = {**out, "deltas": [*out["deltas"][:-1], prev["deltas"][-1]]}
        return out
    return backprop


def _coin(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    if np.random.default_rng().random() < 0.3:  # wrong on about a third of the calls
        out["grad_weights"] = [2 * g for g in out["grad_weights"]]
    return out


counting = _counting()
last_result = _last_result()
coin = _coin


def _reused() -> Any:
    buffers: dict[Any, list[np.ndarray]] = {}

    def backprop(weights, biases, activations, loss, x, t):  # type: ignore[no-untyped-def]
        out = reference_impl.backprop(weights, biases, activations, loss, x, t)
        key = tuple(np.shape(g) for g in out["grad_biases"])
        kept = buffers.setdefault(key, [np.empty_like(g) for g in out["grad_biases"]])
        for buf, g in zip(kept, out["grad_biases"], strict=True):
            buf[...] = g  # ∂b written into the same arrays on every call
        return {**out, "grad_biases": kept}
    return backprop


reused = _reused()
