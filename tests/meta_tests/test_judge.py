"""Judging many quantities at once gives, quantity by quantity, what the rule says entry by entry.

``compare.judge`` lays every quantity of a case end to end and judges them with segment
reductions. The reference here is the rule written out one entry at a time in plain Python,
on quantities that mix NaN, inf, zeros, unjudged entries, error bars and several rtols.
"""

import math

import numpy as np
import pytest

from deltacheck.core.verdicts import ERROR, FAIL, NOT_JUDGED, PASS
from deltacheck.judging.compare import Entries, judge


def by_hand(x, y, unjudged, uncertainty, floor, rtol):
    """The rule, one entry at a time: (verdict, err, worst, judged, not judged, unresolved)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    shape = y.shape
    xs, ys = x.ravel().tolist(), y.ravel().tolist()
    skip = np.broadcast_to(unjudged, shape).ravel().tolist()
    bar = np.broadcast_to(uncertainty, shape).ravel().tolist()
    low = np.broadcast_to(floor, shape).ravel().tolist()
    s = max([abs(v) for v in ys if math.isfinite(v)], default=0.0)
    judged = sum(not k for k in skip)
    unresolved = sum(1 for k, u, f in zip(skip, bar, low, strict=True) if not k and u > rtol * s + f)
    worst, err = None, -1.0
    for i, (a, b, k, u, f) in enumerate(zip(xs, ys, skip, bar, low, strict=True)):
        if k and math.isfinite(a):
            continue  # not judged, and a finite value there cannot fail
        if math.isfinite(a) and math.isfinite(b):
            e = 0.0 if a == b else abs(a - b) / (s + (u + f) / rtol)
        else:
            e = math.inf
        if e > err:
            worst, err = i, e
    if worst is None:
        return NOT_JUDGED, 0.0, None, judged, len(ys) - judged, unresolved
    at = tuple(int(i) for i in np.unravel_index(worst, shape)) if shape else ()
    if not math.isfinite(ys[worst]) and math.isfinite(xs[worst]):
        verdict = ERROR
    else:
        verdict = PASS if err <= rtol else FAIL
    return verdict, err, at, judged, len(ys) - judged, unresolved


SPECIALS = (np.nan, np.inf, -np.inf, 0.0, 1e308, -1e308)


def random_quantity(rng, k):
    shape = [(), (1,), (4,), (3, 5), (0,), (2, 0)][rng.integers(0, 6)]
    y = rng.normal(size=shape) * 10.0 ** rng.integers(-8, 4)
    x = y * (1 + rng.choice([0.0, 1e-14, 1e-10, 1e-6, 1.0], size=shape))
    for arr in (x, y):
        if arr.size and rng.random() < 0.3:
            arr.flat[rng.integers(0, arr.size)] = rng.choice(SPECIALS)
    unjudged = rng.random(shape) < 0.3 if rng.random() < 0.5 else None
    uncertainty = np.abs(rng.normal(size=shape)) * 1e-9 if rng.random() < 0.3 else 0.0
    floor = np.abs(rng.normal(size=shape)) * 1e-15 if rng.random() < 0.7 else 1e-300
    rtol = float(rng.choice([1e-12, 1e-7, 1e-5]))
    return Entries("deltas", k, x, y, rtol, unjudged, uncertainty, floor)


@pytest.mark.parametrize("seed", range(40))
def test_judging_together_agrees_with_the_rule_entry_by_entry(seed):
    rng = np.random.default_rng(seed)
    items = [random_quantity(rng, k) for k in range(rng.integers(1, 12))]
    for item, q in zip(items, judge(items), strict=True):
        verdict, err, worst, judged, not_judged, unresolved = by_hand(
            item.x, item.y, False if item.unjudged is None else item.unjudged,
            item.uncertainty, item.floor, item.rtol)
        assert (q.verdict, q.worst, q.judged, q.not_judged, q.unresolved) == (
            verdict, worst, judged, not_judged, unresolved)
        assert q.err == pytest.approx(err, rel=1e-12) or (math.isinf(err) and q.err == err)


def test_a_wrong_entry_in_one_quantity_fails_that_quantity_alone():
    good = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    bad = good.copy()
    bad[2, 1] *= 1 + 1e-6
    items = [Entries("deltas", l, x, good, 1e-12, floor=1e-18)
             for l, x in enumerate((good, bad, good))]
    verdicts = [(q.verdict, q.worst) for q in judge(items)]
    assert verdicts == [(PASS, (0, 0)), (FAIL, (2, 1)), (PASS, (0, 0))]


def test_nan_fails_even_where_nothing_is_judged():
    q, = judge([Entries("grad_biases", 0, np.array([np.nan, 1.0]), np.array([0.5, 1.0]), 1e-12,
                        unjudged=np.array([True, True]))])
    assert q.verdict == FAIL and q.worst == (0,) and math.isinf(q.err)
