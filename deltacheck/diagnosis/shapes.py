"""The shapes a wrong value can take against what it should be, whatever the step: a
constant factor or a sign, some samples wrong, targets nudged, values clipped."""

from __future__ import annotations

import numpy as np

from deltacheck.diagnosis.evidence import (
    Evidence,
    float32_numbers,
    fraction_text,
    ratio,
    samples_text,
    simple_ratio,
)


def generic(ev: Evidence, x: np.ndarray, xhat: np.ndarray, tol: np.ndarray, mask: np.ndarray,
            what: str, *, hidden: bool = False) -> tuple[str, str] | None:
    """A constant factor or a sign flip between x and what it should be.

    One entry fits any ratio, so alone it is evidence only for a simple one (2, 1/N, −1);
    in a hidden δ step, only for a sign: any other lone ratio is a wrong h' there.
    """
    r = ratio(x, xhat, tol, mask)
    if r is None:
        return None
    if int((mask & (xhat != 0)).sum()) < 2:
        if not simple_ratio(r, ev.N) or (hidden and abs(r + 1) > 1e-6):
            return None
    if abs(r + 1) <= 1e-6:
        return "sign", f"{what} has the opposite sign of what it should be"
    return "factor", f"{what} is {fraction_text(r, ev.N)} times what it should be"


def rows_wrong(ev: Evidence, x: np.ndarray, xhat: np.ndarray, tol: np.ndarray, mask: np.ndarray
               ) -> tuple[str, str] | None:
    with np.errstate(all="ignore"):
        wrong = (~(np.abs(x - xhat) <= tol) & mask).any(axis=1)
    if wrong.any() and not wrong.all() and ev.N > 1:
        return "per_sample", (f"only {samples_text(wrong)} of {ev.N} are wrong; the other "
                              f"samples are right")
    return None


def wrong_entries(ev: Evidence, x: np.ndarray, xhat: np.ndarray, tol: np.ndarray,
                  mask: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return ~(np.abs(x - xhat) <= tol) & mask


def targets_nudged(ev: Evidence, x: np.ndarray, xhat: np.ndarray, tol: np.ndarray,
                   mask: np.ndarray) -> tuple[str, str] | None:
    """Wrong only where t is exactly 0 or 1, all by one tiny amount: t clipped or floored."""
    wrong = wrong_entries(ev, x, xhat, tol, mask)
    t = ev.net.t
    if not wrong.any() or not np.isin(t[wrong], (0.0, 1.0)).all():
        return None
    off = np.abs(x - xhat)[wrong]
    if not np.allclose(off, off[0], rtol=1e-3, atol=0) or float32_numbers(x[wrong]):
        return None
    return "output_error", (f"the output δ is off by {off[0]:.2g} exactly where the target is "
                            f"0 or 1: the targets are clipped or floored away from 0 and 1")


def clipped(ev: Evidence, x: np.ndarray, xhat: np.ndarray, tol: np.ndarray, mask: np.ndarray,
            what: str) -> tuple[str, str] | None:
    """Wrong only where |x̂| exceeds one bound c, and there x = ±c: x is clipped."""
    wrong = wrong_entries(ev, x, xhat, tol, mask)
    if not wrong.any():
        return None
    c = np.abs(x[wrong])
    if not (np.allclose(c, c[0], rtol=1e-12, atol=0) and (np.abs(xhat[wrong]) > c[0]).all()
            and (np.sign(x[wrong]) == np.sign(xhat[wrong])).all()):
        return None
    return "output_error", f"{what} is clipped to ±{c[0]:.6g}"
