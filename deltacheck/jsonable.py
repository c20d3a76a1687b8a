"""The JSON form of comparison results: compact, and strict (no NaN literals)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from deltacheck.verdicts import PASS

if TYPE_CHECKING:
    from deltacheck.compare import OracleResult, QuantityResult


def json_number(v: float | None) -> float | str | None:
    """A float for JSON: non-finite values become the strings "inf", "-inf", "nan"."""
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else str(v)


def quantity_json(q: QuantityResult) -> dict[str, Any]:
    """One quantity's record: errors, counts, and where it went wrong (failures only)."""
    out: dict[str, Any] = {"q": q.quantity, "layer": q.layer, "verdict": str(q.verdict),
                           "err": json_number(q.err), "abs": json_number(q.max_abs),
                           "rel": json_number(q.max_rel), "norm": json_number(q.norm_rel),
                           "judged": q.judged, "not_judged": q.not_judged,
                           "unresolved": q.unresolved}
    if q.worst is not None and q.verdict != PASS:  # passing ones stay compact
        out["worst"] = list(q.worst)
        out["impl_value"] = json_number(q.impl_value)
        out["oracle_value"] = json_number(q.oracle_value)
    if q.message:
        out["message"] = q.message
    return out


def oracle_json(r: OracleResult) -> dict[str, Any]:
    """One oracle's record of a case."""
    out: dict[str, Any] = {"verdict": str(r.verdict), "rtol": r.rtol, "err": json_number(r.err),
                           "not_judged": r.not_judged,
                           "quantities": [quantity_json(q) for q in r.quantities]}
    if r.message:
        out["message"] = r.message
    return out
