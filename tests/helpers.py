"""Small builders shared by the tests."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from deltacheck.core.case import Case


def needs(*modules: str) -> None:
    """Skip unless the modules are installed, without importing them here.

    For tests that use pytester, which removes the modules a test imported once it ends: a
    framework imported inside such a test and imported again later crashes the interpreter.
    """
    for name in modules:
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"needs {name}")


def random_case(rng: np.random.Generator, widths: tuple[int, ...], activations: tuple[str, ...],
                loss: str, *, batch: int = 3, dtype: str = "float64") -> Case:
    """A well-conditioned case drawn from ``rng``."""
    L = len(widths) - 1
    weights = [rng.normal(size=(widths[l + 1], widths[l])) / np.sqrt(widths[l]) for l in range(L)]
    biases = [0.5 * rng.normal(size=widths[l + 1]) for l in range(L)]
    x = rng.normal(size=(batch, widths[0]))
    if loss == "mse":
        t = rng.normal(size=(batch, widths[-1]))
    elif loss == "bce":
        t = rng.uniform(size=(batch, widths[-1]))
    else:
        t = rng.dirichlet(np.ones(widths[-1]), size=batch)
    return Case(widths=widths, activations=activations, loss=loss, dtype=dtype,
                weights=tuple(weights), biases=tuple(biases), x=x, t=t)


def perturbed(out: dict, key: str, layer: int, index: tuple[int, ...], factor: float) -> dict:
    """A copy of a backprop result with one entry multiplied by ``factor``."""
    new = {k: ([np.array(v, copy=True) for v in out[k]] if k != "loss" else out[k]) for k in out}
    new[key][layer][index] *= factor
    return new

# An implementation that raises KeyboardInterrupt after LIMIT calls (LIMIT is prepended).
INTERRUPTING = """
from deltacheck import reference_impl

calls = {"n": 0}


def backprop(*args):
    calls["n"] += 1
    if calls["n"] > LIMIT:
        raise KeyboardInterrupt
    return reference_impl.backprop(*args)
"""
