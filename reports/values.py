"""Value tables of one failing quantity: the implementation's entries beside each oracle's.

Tables are cut to a window around the worst entry, so a wide layer still gives a small page,
and say how many entries beyond tolerance the window leaves out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from deltacheck.core import tolerances
from deltacheck.reports.common import (
    ERROR,
    FAIL,
    NOT_JUDGED,
    PASS,
    arch,
    count,
    fmt_err,
    fmt_val,
    label,
    num,
)

AXES = {"deltas": ("sample n", "unit j"), "grad_weights": ("to unit j", "from unit i"),
        "grad_biases": ("", "unit j"), "loss": ("", "")}
WINDOW = 8  # rows and columns of a value table shown around its worst entry


def find_quantity(result: Mapping[str, Any], q: str, layer: int | None) -> dict[str, Any]:
    """One oracle's record of quantity (q, layer), or {} when it has none."""
    for qd in result.get("quantities") or []:
        if qd.get("q") == q and qd.get("layer") == layer:
            return qd
    return {}


def _grid(v: Any) -> np.ndarray | None:
    """Values as a 2-D float array (a scalar is 1×1, a vector one row), or None."""
    if v is None:
        return None
    try:
        a = np.array(v, dtype=object)
    except ValueError:  # ragged: the implementation returned something odd
        return None
    if a.ndim > 2:
        return None
    return np.atleast_2d(np.vectorize(num, otypes=[float])(a) if a.size else a.astype(float))


def _mask(v: Any, shape: tuple[int, ...]) -> np.ndarray:
    """An unjudged mask shaped like its values; all False when absent or malformed."""
    try:
        m = np.atleast_2d(np.array(v, dtype=bool)) if v is not None else None
    except (TypeError, ValueError):
        m = None
    return m if m is not None and m.shape == shape else np.zeros(shape, dtype=bool)


def _pick(record: Mapping[str, Any] | None, q: str, layer: int | None) -> Any:
    if not record:
        return None
    if layer is None:
        return record.get(q)
    seq = record.get(q)
    return seq[layer] if isinstance(seq, list) and 0 <= layer < len(seq) else None


def _exceeds(x: np.ndarray, y: np.ndarray, unjudged: np.ndarray, rtol: float,
             floor: float, allowed: np.ndarray | None = None) -> np.ndarray:
    """Entries beyond what the comparison allowed them (older files: rebuilt without u)."""
    if allowed is not None and allowed.shape == x.shape:
        with np.errstate(all="ignore"):
            ok = np.abs(x - y) <= allowed.astype(float)
        return ~ok & (~unjudged | ~np.isfinite(x))
    # Files without "allowed": the oracle's error bar u and the per-entry floor are unknown,
    # so the rule runs with u = 0 and the least floor: highlights may be stricter than the
    # verdict, and never hide a failure.
    with np.errstate(all="ignore"):
        diff = np.abs(x - y)
        s = float(np.abs(y[np.isfinite(y)]).max(initial=0.0))
        err = diff / (s + floor / rtol)
        err = np.where(diff == 0, 0.0, err)
        err = np.where(np.isfinite(x) & np.isfinite(y), err, np.inf)
        return ~(err <= rtol) & (~unjudged | ~np.isfinite(x))


def _window(n: int, centre: int) -> range:
    start = min(max(centre - WINDOW // 2, 0), max(n - WINDOW, 0))
    return range(start, min(start + WINDOW, n))


def _table(caption: str, v: np.ndarray, rows: range, cols: range,
           marks: Mapping[str, np.ndarray]) -> dict[str, Any]:
    def cls(i: int, j: int) -> str:
        return " ".join(k for k, m in marks.items() if m[i, j])

    clipped = ""
    if (len(rows), len(cols)) != v.shape:
        bad = marks.get("bad", np.zeros(v.shape, dtype=bool))
        hidden = int(bad.sum() - bad[rows.start:rows.stop, cols.start:cols.stop].sum())
        clipped = (f"rows {rows.start}–{rows.stop - 1} of {v.shape[0]}, columns "
                   f"{cols.start}–{cols.stop - 1} of {v.shape[1]}"
                   + (f"; {hidden} more {'entry' if hidden == 1 else 'entries'} beyond "
                      "tolerance outside this window" if hidden else ""))
    return {"caption": caption, "cols": list(cols), "headers": v.size > 1, "clipped": clipped,
            "rows": [{"head": i, "cells": [{"text": fmt_val(v[i, j]), "cls": cls(i, j)}
                                           for j in cols]} for i in rows]}


def _caption(oracle: str, res: Mapping[str, Any], rtol: float) -> str:
    verdict = res.get("verdict", "")
    if verdict == NOT_JUDGED:
        return f"{oracle}: not judged"
    sign = {PASS: "≤", FAIL: ">", ERROR: ">"}.get(verdict, "")
    n = count(res.get("unresolved", 0))
    bar = f" · {n} unresolved" if n else ""
    return f"{oracle}: err {fmt_err(res.get('err'))} {sign} rtol {fmt_err(rtol)}{bar}"


def side_by_side(q: str, layer: int | None, failure: Mapping[str, Any],
                 oracles: list[str]) -> dict[str, Any]:
    """The implementation's values of one quantity beside each oracle's, marked up."""
    values, results = failure.get("values") or {}, failure.get("oracles") or {}
    out: dict[str, Any] = {"label": label(q, layer), "axes": AXES.get(q, ("", "")),
                           "messages": [], "tables": []}
    x = _grid(_pick(values.get("impl"), q, layer))
    if x is None and failure.get("compact"):
        out["note"] = ("Stored compactly at this size (its seed and the worst entries): replay "
                       "it to see every value.")
        return out
    if x is None:
        out["note"] = "The implementation returned no usable values for this quantity."
        return out
    dtype = "float32" if "32" in str(arch(failure.get("case") or {})["dtype"]) else "float64"
    per: list[tuple[np.ndarray, dict[str, np.ndarray], str]] = []
    centre: tuple[int, int] | None = None
    for o in oracles:
        y = _grid(_pick(values.get(o), q, layer))
        if y is None or y.shape != x.shape:
            continue
        res = find_quantity(results.get(o) or {}, q, layer)
        unj = _mask(_pick((values.get(o) or {}).get("unjudged"), q, layer), y.shape)
        rtol = num((results.get(o) or {}).get("rtol"))
        loss = abs(num((values.get(o) or {}).get("loss")))
        floor = tolerances.least_floor(dtype, loss)
        worst = np.zeros(y.shape, dtype=bool)
        idx = [int(i) for i in res.get("worst") or []]
        at = (0, 0) if not idx else ((0, idx[0]) if len(idx) == 1 else tuple(idx[:2]))
        if all(0 <= a < n for a, n in zip(at, y.shape, strict=True)):
            worst[at] = True
            if centre is None and res.get("verdict") in (FAIL, ERROR):
                centre = (at[0], at[1])
        if res.get("message"):
            out["messages"].append(res["message"])
        allowed = _grid(_pick((values.get(o) or {}).get("allowed"), q, layer))
        marks = {"worst": worst, "bad": _exceeds(x, y, unj, rtol, floor, allowed), "nj": unj}
        per.append((y, marks, _caption(o, res, rtol)))
    # The implementation's table marks what any oracle marks; greys what none can judge.
    union = {"worst": np.zeros(x.shape, dtype=bool), "bad": np.zeros(x.shape, dtype=bool),
             "nj": np.full(x.shape, bool(per))}
    for _, m, _ in per:
        union["worst"] |= m["worst"]
        union["bad"] |= m["bad"]
        union["nj"] &= m["nj"]
    if centre is None:
        hot = np.argwhere(union["bad"])
        centre = (int(hot[0][0]), int(hot[0][1])) if len(hot) else (0, 0)
    rows, cols = _window(x.shape[0], centre[0]), _window(x.shape[1], centre[1])
    out["tables"] = [_table("implementation", x, rows, cols, union)]
    out["tables"] += [_table(cap, y, rows, cols, m) for y, m, cap in per]
    return out
