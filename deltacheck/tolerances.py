"""The tolerance table: one relative tolerance per (oracle, dtype), and why.

An entry x of the implementation passes against the oracle's y when

    |x − y| ≤ rtol · (|y| + s) + u + atol,

where s is the largest |y| of that quantity (δ of one layer, ∂W of one layer, ...), u is the
oracle's own error bar (finite differences only) and atol = 64 ε max(1, |E|) is the rounding
floor of the case in the implementation's dtype. The reported error is the smallest rtol that
would pass: err = |x − y| / (|y| + s + (u + atol) / rtol).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """One row of the table."""

    oracle: str
    dtype: str
    rtol: float
    why: str


TABLE: tuple[Tolerance, ...] = (
    Tolerance("torch", "float64", 1e-12,
              "both sides compute in float64; differences are reordered sums, ~1e-15 measured"),
    Tolerance("jax", "float64", 1e-12,
              "both sides compute in float64; differences are reordered sums, ~1e-15 measured"),
    Tolerance("fd", "float64", 1e-7,
              "central differences with h = ε^(1/3) max(1, |p|) are good to ~1e-10; "
              "their own error bar is added"),
    Tolerance("torch", "float32", 2e-3,
              "the implementation computes in float32 (ε = 1.2e-7); the oracle in float64 "
              "from the same float32 values; worst measured ~1e-4 over deep networks"),
    Tolerance("jax", "float32", 2e-3,
              "as torch: float32 implementation against a float64 truth"),
    Tolerance("fd", "float32", 2e-3,
              "finite differences stay in float64; the float32 implementation dominates"),
)

ATOL_EPS_FACTOR = 64.0


def lookup(oracle: str, dtype: str) -> Tolerance:
    """The tolerance row for an oracle and dtype."""
    for row in TABLE:
        if row.oracle == oracle and row.dtype == dtype:
            return row
    raise KeyError(f"no tolerance for oracle={oracle!r}, dtype={dtype!r}")


def atol(dtype: str, loss_value: float) -> float:
    """The rounding floor of a case: 64 ε max(1, |E|) in the implementation's dtype."""
    scale = abs(loss_value) if np.isfinite(loss_value) else 1.0
    return ATOL_EPS_FACTOR * float(np.finfo(dtype).eps) * max(1.0, scale)


def as_dicts() -> list[dict[str, object]]:
    """The table as JSON-ready rows."""
    return [{"oracle": r.oracle, "dtype": r.dtype, "rtol": r.rtol, "why": r.why} for r in TABLE]
