"""The one source of every constant of the comparison rule, and the text that explains it.

An entry x of the implementation passes against the oracle's y when

    |x − y| ≤ rtol · s + u + floor,

where s is the largest |y| of that quantity (δ of one layer, ∂W of one layer, ...), u is the
oracle's own error bar (finite differences only) and floor is the entry's rounding floor
(deltacheck/judging/rounding.py: FLOOR_FACTOR ε times the magnitudes the entry is computed from, in
the implementation's dtype). The reported error is the smallest rtol that would pass:
err = |x − y| / (s + (u + floor) / rtol).

The report prints RULE, TERMS, CONSTANTS and the TABLE from here, and the table of docs/judging.md is
``markdown()`` verbatim (tests/test_tolerances.py fails when it drifts):
``python -m deltacheck.tolerances`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deltacheck.core.verdicts import NOT_JUDGED_WORD, UNRESOLVED_WORD

# The rounding floor of an entry is FLOOR_FACTOR ε M, M from a first-order error analysis.
FLOOR_FACTOR = 16.0
# ... and never below ε^UNDERFLOW_EPS_POWER max(1, |E|): a saturated unit's 1e-59 is zero.
UNDERFLOW_EPS_POWER = 2
# Bounds on |h'| and |h''| from central differences of h add this many ε|h| / step (/ step²).
SLOPE_RESOLUTION = 4.0
CURVE_RESOLUTION = 8.0
# Relative finite-difference step in float64: ε^(1/3) balances truncation (∝ h²) against
# rounding (∝ ε/h). Pre-activations within this step of a kink are not judged by fd.
FD_STEP = float(np.finfo(np.float64).eps) ** (1.0 / 3.0)
# fd's error bar: FD_BAR_FACTOR times the c₁h + c₂h² terms fitted over the steps h, 2h, 4h ...
FD_BAR_FACTOR = 2.0
# ... plus FD_ROUNDING_FACTOR ε times what one evaluation of E adds up, divided by h.
FD_ROUNDING_FACTOR = 4.0
# A kink's neighbourhood is KINK_SLACK_FACTOR ε times the sums that make a (propagated through
# the layers), in the implementation's dtype: its own a may sit on the other side of the kink.
KINK_SLACK_FACTOR = 16.0
# assert_close (plain arrays, no error analysis available): floor ATOL_EPS_FACTOR ε max(1, |E|).
ATOL_EPS_FACTOR = 64.0

RULE = "|x − y| ≤ rtol · s + u + floor"
ERR = "err = |x − y| / (s + (u + floor) / rtol)"
SYMBOLS = (
    ("x, y", "the implementation's entry and the oracle's"),
    ("s", "the largest |y| of that quantity (the loss; δ, ∂W or ∂b of one layer)"),
    ("u", "the oracle's own error bar (finite differences only; 0 for torch and jax)"),
    ("floor", f"the entry's rounding floor: {FLOOR_FACTOR:g} ε M in the implementation's dtype, "
              f"M the magnitudes the entry is computed from (deltacheck/judging/rounding.py), and "
              f"never below ε^{UNDERFLOW_EPS_POWER} max(1, |E|)"),
    ("rtol", "the relative tolerance of the oracle and dtype (the table)"),
)
TERMS = (
    (NOT_JUDGED_WORD, "an entry whose value depends on h' within the implementation's rounding "
                      "of a kink, where conventions differ (for fd also within its step, which "
                      "straddles the kink): counted and shown, never failed, never passed"),
    (UNRESOLVED_WORD, "a judged entry whose oracle error bar u is wider than rtol · s + floor: "
                      "a gross error still fails, a smaller one cannot be seen"),
)
CONSTANTS = (
    ("FLOOR_FACTOR", FLOOR_FACTOR, "the rounding floor is this many ε times M"),
    ("UNDERFLOW_EPS_POWER", UNDERFLOW_EPS_POWER, "the floor is never below ε to this power "
                                                 "times max(1, |E|)"),
    ("FD_STEP", FD_STEP, "relative finite-difference step, ε^(1/3) in float64; also how near a "
                         "kink fd counts as on it"),
    ("FD_BAR_FACTOR", FD_BAR_FACTOR, "fd's error bar is this many times the truncation terms "
                                     "fitted over the steps h, 2h and 4h"),
    ("FD_ROUNDING_FACTOR", FD_ROUNDING_FACTOR, "plus this many ε times what one evaluation of E "
                                               "adds up, over h"),
    ("KINK_SLACK_FACTOR", KINK_SLACK_FACTOR, "a kink's neighbourhood: this many ε times the "
                                             "sums that make a, in the case's dtype"),
    ("SLOPE_RESOLUTION", SLOPE_RESOLUTION, "the floor's bound on |h'| adds this many ε|h|/step"),
    ("CURVE_RESOLUTION", CURVE_RESOLUTION, "the floor's bound on |h''| adds this many "
                                           "ε|h|/step²"),
    ("ATOL_EPS_FACTOR", ATOL_EPS_FACTOR, "deltacheck.testing.assert_close on plain arrays: "
                                         "floor this many ε max(1, |E|)"),
)


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
              f"use: at most 1.2 of its {FLOOR_FACTOR:g} ε M over 3000 cases), so rtol is only "
              "a margin"),
    Tolerance("jax", "float32", 1e-5,
              "as torch: a float32 implementation against a float64 truth"),
    Tolerance("fd", "float32", 1e-5,
              "finite differences stay in float64, with their own error bar; the float32 "
              "rounding of the implementation is covered by the floor"),
)


def oracles() -> list[str]:
    """The oracles the table has rows for, in table order."""
    return list(dict.fromkeys(r.oracle for r in TABLE))


def lookup(oracle: str, dtype: str) -> Tolerance:
    """The tolerance row for an oracle and dtype."""
    for row in TABLE:
        if row.oracle == oracle and row.dtype == dtype:
            return row
    raise KeyError(f"no tolerance for oracle={oracle!r}, dtype={dtype!r}")


def floor_scale(dtype: str) -> float:
    """FLOOR_FACTOR ε of the dtype: the floor per unit of the magnitude M."""
    return FLOOR_FACTOR * float(np.finfo(dtype).eps)


def least_floor(dtype: str, loss_value: float) -> float:
    """The floor under every floor: ε^UNDERFLOW_EPS_POWER max(1, |E|) (0 for a non-finite E)."""
    if not np.isfinite(loss_value):
        return 0.0
    return float(np.finfo(dtype).eps) ** UNDERFLOW_EPS_POWER * max(1.0, abs(loss_value))


def atol(dtype: str, loss_value: float) -> float:
    """A scalar floor for comparing plain arrays in tests: ATOL_EPS_FACTOR ε max(1, |E|)."""
    scale = abs(loss_value) if np.isfinite(loss_value) else 1.0
    return ATOL_EPS_FACTOR * float(np.finfo(dtype).eps) * max(1.0, scale)


def as_dicts() -> list[dict[str, object]]:
    """The table as JSON-ready rows."""
    return [{"oracle": r.oracle, "dtype": r.dtype, "rtol": r.rtol, "why": r.why} for r in TABLE]


def _number(v: float) -> str:
    return f"{v:.3g}" if isinstance(v, float) and not float(v).is_integer() else f"{v:g}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # |E| inside a table cell


def markdown() -> str:
    """The tolerance section of docs/judging.md: the rule, the rtol table, the words, the constants."""
    dtypes = list(dict.fromkeys(r.dtype for r in TABLE))
    lines = [f"    {RULE}", "", f"    {ERR}", ""]
    lines += [f"- **{sym}**: {text}" for sym, text in SYMBOLS]
    lines += ["", "| oracle | " + " | ".join(dtypes) + " |",
              "|---|" + "---|" * len(dtypes)]
    for o in oracles():
        lines.append(f"| {o} | " + " | ".join(f"{lookup(o, d).rtol:.0e}" for d in dtypes) + " |")
    lines += ["", "| word | meaning |", "|---|---|"]
    lines += [f"| {word} | {_cell(text)} |" for word, text in TERMS]
    lines += ["", "| constant | value | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | {_number(v)} | {_cell(text)} |" for name, v, text in CONSTANTS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
