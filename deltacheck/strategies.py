"""Hypothesis strategies for networks and cases.

``architectures()`` draws widths, hidden activations and a loss; ``cases()`` adds weights,
biases, inputs and targets. Values are well-conditioned: weights are scaled by 1/√fan-in so
pre-activations stay O(1) at any depth, and targets are valid for their loss (bce in [0, 1],
ce rows on the simplex). Everything shrinks toward a one-layer network with small values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from deltacheck.case import DTYPES, LOSSES, Case
from deltacheck.errors import DeltacheckError
from reference_impl import activations as registry


@dataclass(frozen=True)
class Architecture:
    """Widths n[0..L], the L − 1 hidden activations and the loss."""

    widths: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str


def _check_bounds(name: str, low: int, high: int, smallest: int) -> None:
    for arg, value in ((f"min_{name}", low), (f"max_{name}", high)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise DeltacheckError(f"{arg}={value!r} must be an int")
    if low < smallest:
        raise DeltacheckError(f"min_{name}={low} must be at least {smallest}")
    if low > high:
        raise DeltacheckError(f"min_{name}={low} is larger than max_{name}={high}")


def _check_choice(arg: str, values: Sequence[str] | None, allowed: Sequence[str]) -> list[str]:
    if values is None:
        return list(allowed)
    values = list(values)
    if not values:
        raise DeltacheckError(f"{arg} is empty; give at least one of {', '.join(allowed)}")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise DeltacheckError(f"{arg} has unknown {', '.join(map(repr, unknown))}; "
                              f"choose from {', '.join(allowed)}")
    return values


def architectures(*, min_layers: int = 1, max_layers: int = 5, min_width: int = 1,
                  max_width: int = 8, activations: Sequence[str] | None = None,
                  losses: Sequence[str] | None = None) -> st.SearchStrategy[Architecture]:
    """Networks of ``min_layers``–``max_layers`` weight layers and widths in bounds."""
    _check_bounds("layers", min_layers, max_layers, 1)
    _check_bounds("width", min_width, max_width, 1)
    acts = _check_choice("activations", activations, sorted(registry.REGISTRY))
    loss_names = _check_choice("losses", losses, LOSSES)

    @st.composite
    def draw(draw: Any) -> Architecture:
        loss = draw(st.sampled_from(loss_names))
        L = draw(st.integers(min_layers, max_layers))
        widths = [draw(st.integers(min_width, max_width)) for _ in range(L + 1)]
        if loss == "ce" and max_width >= 2:  # softmax over one class is constant: E ≡ 0
            widths[-1] = max(widths[-1], 2)
        hidden = tuple(draw(st.sampled_from(acts)) for _ in range(L - 1))
        event(f"loss={loss}")
        event(f"layers={L}")
        return Architecture(widths=tuple(widths), activations=hidden, loss=loss)

    return draw()


def event(label: str) -> None:
    """Hypothesis statistics (``--hypothesis-show-statistics``); harmless outside a test."""
    from hypothesis import event as hypothesis_event
    from hypothesis.control import currently_in_test_context

    if currently_in_test_context():
        hypothesis_event(label)


def _values(shape: tuple[int, ...], bound: float, dtype: str, *,
            least: float = 0.0) -> st.SearchStrategy[np.ndarray]:
    """Arrays with entries of magnitude in [least, bound], either sign; shrinking goes to least."""
    unit = st.floats(-1.0, 1.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)

    def scale(v: np.ndarray) -> np.ndarray:
        sign = np.where(v < 0, -1.0, 1.0)
        return (sign * (least + (bound - least) * np.abs(v))).astype(dtype)

    # fill=nothing draws every entry: a constant fill would make symmetric, degenerate networks.
    return hnp.arrays(np.float64, shape, elements=unit, fill=st.nothing()).map(scale)


def cases(architecture: Architecture | st.SearchStrategy[Architecture] | None = None, *,
          min_batch: int = 1, max_batch: int = 6, dtype: str = "float64",
          **architecture_bounds: Any) -> st.SearchStrategy[Case]:
    """Whole cases: an architecture (drawn with ``architecture_bounds`` if not given) and values."""
    _check_bounds("batch", min_batch, max_batch, 1)
    if dtype not in DTYPES:
        raise DeltacheckError(f"dtype={dtype!r} must be one of {', '.join(DTYPES)}")
    if architecture is None:
        architecture = architectures(**architecture_bounds)
    elif architecture_bounds:
        raise DeltacheckError("pass either architecture= or architecture bounds, not both")
    arch_strategy = (architecture if isinstance(architecture, st.SearchStrategy)
                     else st.just(architecture))

    @st.composite
    def draw(draw: Any) -> Case:
        arch = draw(arch_strategy)
        n = arch.widths
        N = draw(st.integers(min_batch, max_batch))
        # Weights of magnitude 0.1–1 scaled by √(3/fan-in): a[l] stays O(1) at any depth, and
        # no weight or bias is exactly 0, which would make whole layers dead or degenerate.
        weights = [draw(_values((n[l + 1], n[l]), np.sqrt(3.0 / n[l]), dtype,
                                least=0.1 * np.sqrt(3.0 / n[l]))) for l in range(len(n) - 1)]
        biases = [draw(_values((n[l + 1],), 0.5, dtype, least=0.05)) for l in range(len(n) - 1)]
        x = draw(_values((N, n[0]), 2.0, dtype))
        if arch.loss == "mse":
            t = draw(_values((N, n[-1]), 2.0, dtype))
        elif arch.loss == "bce":
            t = np.abs(draw(_values((N, n[-1]), 1.0, dtype)))
        else:
            t = _simplex(np.abs(draw(_values((N, n[-1]), 1.0, dtype))))
        return Case(widths=n, activations=arch.activations, loss=arch.loss, dtype=dtype,
                    weights=tuple(weights), biases=tuple(biases), x=x, t=t)

    return draw()


def _simplex(raw: np.ndarray) -> np.ndarray:
    """Rows normalised to sum to 1; an all-zero row becomes one-hot on its first class."""
    raw = raw.copy()
    raw[raw.sum(axis=1) == 0, 0] = 1
    return (raw / raw.sum(axis=1, keepdims=True)).astype(raw.dtype)
