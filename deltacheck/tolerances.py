"""The tolerance table: one relative tolerance per (oracle, dtype), and why.

An entry x of the implementation passes against the oracle's y when

    |x − y| ≤ rtol · s + u + floor,

where s is the largest |y| of that quantity (δ of one layer, ∂W of one layer, ...), u is the
oracle's own error bar (finite differences only) and floor is the rounding floor of that entry
(deltacheck/rounding.py: 32 ε times the magnitudes the entry is computed from, in the
implementation's dtype). The reported error is the smallest rtol that would pass:
err = |x − y| / (s + (u + floor) / rtol).
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
    Tolerance("torch", "float32", 1e-5,
              "the implementation computes in float32, the oracle in float64 from the same "
              "float32 values; float32 rounding is covered by the per-entry floor (measured "
              "use: at most 1.2 of its 16 ε M over 3000 cases), so rtol is only a margin"),
    Tolerance("jax", "float32", 1e-5,
              "as torch: a float32 implementation against a float64 truth"),
    Tolerance("fd", "float32", 1e-5,
              "finite differences stay in float64, with their own error bar; the float32 "
              "rounding of the implementation is covered by the floor"),
)

ATOL_EPS_FACTOR = 64.0


def lookup(oracle: str, dtype: str) -> Tolerance:
    """The tolerance row for an oracle and dtype."""
    for row in TABLE:
        if row.oracle == oracle and row.dtype == dtype:
            return row
    raise KeyError(f"no tolerance for oracle={oracle!r}, dtype={dtype!r}")


def atol(dtype: str, loss_value: float) -> float:
    """A scalar floor for comparing plain arrays in tests: 64 ε max(1, |E|)."""
    scale = abs(loss_value) if np.isfinite(loss_value) else 1.0
    return ATOL_EPS_FACTOR * float(np.finfo(dtype).eps) * max(1.0, scale)


def as_dicts() -> list[dict[str, object]]:
    """The table as JSON-ready rows."""
    return [{"oracle": r.oracle, "dtype": r.dtype, "rtol": r.rtol, "why": r.why} for r in TABLE]
