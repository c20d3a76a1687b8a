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
              "both sides compute in float64 and differ only in the order of sums: measured "
              "over 2000 cases, p99.9 4.5e-14, max 1.1e-13"),
    Tolerance("jax", "float64", 1e-12,
              "both sides compute in float64 and differ only in the order of sums: measured "
              "max 5.1e-14 over 2000 cases"),
    Tolerance("fd", "float64", 1e-7,
              "central differences with h = ε^(1/3) max(1, |p|) are good to ~1e-10; "
              "their own error bar is added"),
    Tolerance("torch", "float32", 5e-5,
              "the implementation computes in float32, the oracle in float64 from the same "
              "float32 values; measured over 2000 cases: p99.9 4.2e-6, max 1.8e-5, no growth "
              "with depth (benchmarks/measure_float32.py)"),
    Tolerance("jax", "float32", 5e-5,
              "as torch: a float32 implementation against a float64 truth; the same "
              "measured distribution"),
    Tolerance("fd", "float32", 5e-5,
              "finite differences stay in float64, so the float32 implementation's rounding "
              "dominates: the same measured distribution"),
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
