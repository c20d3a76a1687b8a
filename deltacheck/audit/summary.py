"""Check 1's verdict from its judged points: where oracles disagree, the headline, the message.

Where the oracles disagree with each other beyond their floors at a point (torch against jax:
an inaccurate framework primitive; finite differences while every autograd oracle agrees with
dh: h ill-conditioned there; autograd against finite differences otherwise: an expression at
a tie, such as minimum(a, 0) at 0, whose autograd takes half of each side), the point is
judged only to the widest of their error bars: the spread of the oracles' values plus the
largest bar. A gross error of dh
still fails; such points are counted with the reason.

The headline is the worst point with |a| ≤ 20, the range a reader recognises; the worst
failing points beyond are listed beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from deltacheck.core import tolerances

HEADLINE = 20.0  # the headline's worst point has |a| ≤ this
REASONS = {1: "an inaccurate framework primitive", 2: "h ill-conditioned there",
           3: "autograd and finite differences disagree (a tie in max, min or where?)"}
AUTOGRAD = ("torch", "jax")
# e^a overflows past ln(max) = 709.8 in float64; a sum of a few such terms a little earlier
OVERFLOW = float(np.log(np.finfo(np.float64).max)) - float(np.log(16.0))


def _rtol(oracle: str) -> float:
    return tolerances.lookup(oracle, "float64").rtol


def widen(j: dict[str, Any], floor: np.ndarray) -> None:
    """Judge the points where the oracles disagree to the widest of their bars (in place)."""
    names, vals, bars, dh = list(j["values"]), j["values"], j["bar"], j["dh"]
    code = np.zeros(dh.shape, dtype=np.int8)
    j["widened"] = code
    if len(names) < 2:
        return
    with np.errstate(all="ignore"):
        def apart(o1: str, o2: str) -> np.ndarray:
            d = np.abs(vals[o1] - vals[o2])
            big = np.maximum(np.abs(vals[o1]), np.abs(vals[o2]))
            allow = bars[o1] + bars[o2] + floor + max(_rtol(o1), _rtol(o2)) * big
            return np.isfinite(d) & (d > allow)

        autos = [o for o in names if o in AUTOGRAD]
        if len(autos) == 2:
            # torch and jax apart; unless fd, sharp enough, sides with exactly one of them: then
            # the other is wrong, and fails as any oracle would
            sided = (apart("fd", autos[0]) ^ apart("fd", autos[1]) if "fd" in names
                     else np.zeros(dh.shape, dtype=bool))
            code[apart(*autos) & ~sided] = 1
        if "fd" in names and autos:
            agree = np.ones(dh.shape, dtype=bool)
            for o in autos:
                agree &= np.abs(dh - vals[o]) <= floor + _rtol(o) * np.abs(vals[o])
            fd_off = np.zeros(dh.shape, dtype=bool)
            for o in autos:
                fd_off |= apart("fd", o)
            code[(code == 0) & agree & fd_off] = 2
            together = (~apart(*autos) if len(autos) == 2 else np.ones(dh.shape, dtype=bool))
            code[(code == 0) & fd_off & together] = 3
        if not code.any():
            return
        stack = np.stack([vals[o] for o in names])
        wide = (np.nanmax(stack, axis=0) - np.nanmin(stack, axis=0)
                + np.max(np.stack([bars[o] for o in names]), axis=0))
        for o in names:
            diff = np.abs(dh - vals[o])
            err = diff / (np.abs(vals[o]) + (bars[o] + floor + wide) / _rtol(o))
            take = (code > 0) & np.isfinite(err)
            j["err"][o] = np.where(take, np.minimum(j["err"][o], err), j["err"][o])


def score(j: dict[str, Any], oracle: str) -> np.ndarray:
    """err / rtol on judged points (inf for non-finite), −1 elsewhere."""
    return np.where(j["judged"][oracle], j["err"][oracle] / _rtol(oracle), -1.0)


def json_value(v: float) -> float | str:
    """A float for JSON; inf, -inf and nan as strings."""
    v = float(v)
    return v if math.isfinite(v) else str(v)


def _runs(a: np.ndarray, bad: np.ndarray, limit: int = 8) -> list[list[float]]:
    """The intervals of sorted points where ``bad`` holds, as [first, last] pairs."""
    order = np.argsort(a, kind="stable")
    a, bad = a[order], bad[order]
    out: list[list[float]] = []
    start = None
    for i in range(len(a) + 1):
        if i < len(a) and bad[i]:
            start = i if start is None else start
        elif start is not None:
            out.append([float(a[start]), float(a[i - 1])])
            start = None
    return out[:limit]


def _point(j: dict[str, Any], i: int, oracle: str) -> dict[str, Any]:
    p: dict[str, Any] = {"a": float(j["a"][i]), "dh": json_value(float(j["dh"][i]))}
    for name in ("torch", "jax", "fd"):
        p[name] = json_value(float(j["values"][name][i])) if name in j["values"] else None
    p.update(err=json_value(float(j["err"][oracle][i])), oracle=oracle, rtol=_rtol(oracle))
    if "fd" in j["bar"]:
        p["fd_bar"] = json_value(float(j["bar"]["fd"][i]))
    return p


def summarise(j: dict[str, Any], oracles: Sequence[str]) -> dict[str, Any]:
    """The verdict of check 1, its headline worst point (|a| ≤ 20) and the worst beyond."""
    per: dict[str, Any] = {}
    failing = np.zeros(j["a"].shape, dtype=bool)
    scores = {}
    for name in oracles:
        s = score(j, name)
        scores[name] = np.where(np.isnan(s), np.inf, s)
        bad = j["judged"][name] & ~(j["err"][name] <= _rtol(name))
        failing |= bad
        i = int(np.argmax(scores[name]))
        per[name] = {"verdict": "fail" if bad.any() or name in j["problem"] else "pass",
                     "rtol": _rtol(name), "err": json_value(float(j["err"][name][i])),
                     "a": float(j["a"][i]), "judged": int(j["judged"][name].sum()),
                     "not_judged": int((~j["judged"][name]).sum()),
                     "failing_points": int(bad.sum())}
        if name in j["problem"]:
            per[name]["message"] = j["problem"][name]
    top = np.max(np.stack([scores[o] for o in oracles]), axis=0)
    who = [oracles[k] for k in np.argmax(np.stack([scores[o] for o in oracles]), axis=0)]
    inside = np.abs(j["a"]) <= HEADLINE
    pool = np.flatnonzero(inside) if inside.any() else np.arange(top.size)
    i = int(pool[np.argmax(top[pool])])
    worst = _point(j, i, who[i])
    beyond = []
    for k in np.argsort(-np.where(~inside & (top > 1.0), top, -np.inf), kind="stable")[:3]:
        if not inside[k] and top[k] > 1.0:
            beyond.append(_point(j, int(k), who[k]))
    verdict = "fail" if any(p["verdict"] == "fail" for p in per.values()) else "pass"
    code = j.get("widened", np.zeros(top.shape, dtype=np.int8))
    widened = {r: int((code == c).sum()) for c, r in REASONS.items() if (code == c).any()}
    return {"verdict": verdict, "points": int(j["a"].size), "worst": worst,
            "worst_beyond": beyond, "widened": widened, "oracles": per,
            "failing_points": int(failing.sum()), "failing_ranges": _runs(j["a"], failing),
            "message": _message(worst if top[i] > 1.0 or not beyond else beyond[0], per,
                                verdict)}


def _hint(p: dict[str, Any]) -> str:
    if abs(p["a"]) < OVERFLOW:
        return ""
    return (f"; |a| = {abs(p['a']):.6g} is past exp's range in float64 (e^a overflows beyond "
            f"{OVERFLOW + np.log(16.0):.1f}): compute h and dh in a stable form (logaddexp, "
            f"σ(a) = exp(−logaddexp(0, −a)))")


def _message(worst: dict[str, Any], per: dict[str, Any], verdict: str) -> str:
    problems = [f"{o}: {p['message']}" for o, p in per.items() if "message" in p]
    if problems:
        return "; ".join(problems)
    if verdict == "pass":
        return ""
    o = worst["oracle"]
    dh, y = worst["dh"], worst[o]
    if isinstance(dh, str):
        return f"dh({worst['a']:.6g}) = {dh}: a non-finite derivative never passes" + _hint(worst)
    if isinstance(y, str):
        return (f"dh({worst['a']:.6g}) = {dh:.6g}, but {o} gives {y} from h: h is not finite or "
                f"not differentiable there (an xp.where branch that overflows?)" + _hint(worst))
    return (f"dh({worst['a']:.6g}) = {dh:.10g}, but {o} says {y:.10g} "
            f"(err {float(worst['err']):.2g} > {worst['rtol']:.0e})")
