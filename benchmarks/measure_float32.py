"""Measure how far a float32 implementation lands from the float64 oracles: the float32 rtols.

Run from the repository root:  python benchmarks/measure_float32.py [--cases 2000]

Cases come from ``deltacheck.strategies.cases(dtype=...)`` (default bounds, derandomized, so
every run sees the same cases). ``reference_impl.backprop`` computes in the case's dtype; the
oracles promote the same values exactly to float64 and compute there (they always do).

``deltacheck.judging.compare`` passes an entry when |x − y| ≤ rtol (|y| + s) + u + atol: x the
implementation's value, y the oracle's, s the largest |y| of that quantity, u the oracle's
error bar (finite differences only; 0 for torch and jax), atol = 64 ε max(1, |E|). Per entry
this script measures

    r = max(0, |x − y| − u) / (|y| + s)           the rtol it needs, the floor left out;
    e = max(0, |x − y| − u) / (ε max(1, |E|))      the floor it needs, in ε (atol is 64).

r only means something for a quantity that stands clear of the floor (s ≥ 100 atol): one that
cancels to about 0 (a δ of 1e-19 that float32 computes as 1e-8) has an unbounded r and is the
floor's job, so it is counted apart and measured by e. One sample is the worst entry of one
quantity of one case (E, δ[l], ∂W[l] or ∂b[l]), as ``compare`` reports it; unjudged entries
(kinks) are left out as ``compare`` leaves them out.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from bench_oracles import draw_cases

from deltacheck import oracles, reference_impl
from deltacheck.core import tolerances
from deltacheck.core.case import Case
from deltacheck.core.gradients import QUANTITIES, Gradients
from deltacheck.judging.check import activation_objects
from deltacheck.judging.compare import normalise

KINDS = ("loss", *QUANTITIES)
CLEAR = 100.0  # a quantity stands clear of the floor when s >= CLEAR * atol


@dataclass(frozen=True)
class Sample:
    """The judged entries of one quantity of one case against one oracle, and the worst one."""

    dtype: str
    oracle: str
    kind: str
    layer: int | None
    depth: int
    case: int
    s: float
    atol: float
    excess: np.ndarray  # max(0, |x − y| − u) per judged entry; inf where x or y is not finite
    scale: np.ndarray  # |y| + s per judged entry
    err: float  # r of the worst entry
    in_eps: float  # e of the worst entry
    x: float  # the implementation's value at the worst entry
    y: float  # the oracle's value there

    @property
    def clear(self) -> bool:
        """Does the quantity stand clear of the rounding floor (s >= 100 atol)?"""
        return self.s >= CLEAR * self.atol

    def share(self, rtol: float) -> float:
        """The largest fraction of its allowance, rtol (|y| + s) + atol, that an entry uses."""
        return float((self.excess / (rtol * self.scale + self.atol)).max())


def _sample(case: Case, index: int, oracle: str, kind: str, layer: int | None, x: Any, y: Any,
            unjudged: Any, u: Any, atol: float) -> Sample | None:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    judged = np.ones(y.shape, dtype=bool) if unjudged is None else ~np.asarray(unjudged)
    if not judged.any():
        return None
    u = np.broadcast_to(np.asarray(u, dtype=np.float64), y.shape)
    finite = np.isfinite(x) & np.isfinite(y)
    s = float(np.abs(y[np.isfinite(y)]).max(initial=0.0))
    excess = np.where(finite, np.maximum(np.abs(x - y) - u, 0.0), np.inf)[judged]
    scale = (np.abs(y) + s)[judged]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(excess > 0, excess / scale, 0.0)
    worst = int(np.argmax(r))
    return Sample(case.dtype, oracle, kind, layer, case.n_layers, index, s, atol, excess, scale,
                  float(r[worst]), float(excess.max()) * tolerances.ATOL_EPS_FACTOR / atol,
                  float(x[judged][worst]), float(y[judged][worst]))


def samples_of(index: int, case: Case, impl: Gradients, name: str,
               oracle: Gradients) -> list[Sample]:
    """One sample per quantity (E, and δ, ∂W, ∂b of every layer) of a case against an oracle."""
    atol = tolerances.atol(case.dtype, oracle.loss)
    out = [_sample(case, index, name, "loss", None, impl.loss, oracle.loss, None,
                   oracle.loss_uncertainty, atol)]
    for kind in QUANTITIES:
        for m in range(case.n_layers):
            out.append(_sample(case, index, name, kind, m, impl.quantity(kind)[m],
                               oracle.quantity(kind)[m],
                               oracle.unjudged.get(kind, [None] * case.n_layers)[m],
                               oracle.uncertainty.get(kind, [0.0] * case.n_layers)[m], atol))
    return [sample for sample in out if sample is not None]


def measure(drawn: Sequence[Case], oracle_names: Sequence[str]) -> tuple[list[Sample], set[str]]:
    """Every sample of every case and oracle, and the dtypes the implementation returned."""
    samples: list[Sample] = []
    impl_dtypes: set[str] = set()
    for index, case in enumerate(drawn):
        raw = reference_impl.backprop(*case.arguments())
        impl_dtypes |= {str(np.asarray(v).dtype) for key in QUANTITIES for v in raw[key]}
        impl, problems = normalise(raw, case)
        if impl is None:
            raise RuntimeError(f"reference_impl.backprop broke the protocol: {problems}")
        acts = activation_objects(case.activations)
        for name in oracle_names:
            value = oracles.get(name).gradients(list(case.weights), list(case.biases), acts,
                                                case.loss, case.x, case.t)
            samples.extend(samples_of(index, case, impl, name, value))
    return samples, impl_dtypes


def round_up(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^k that is at least ``value``."""
    if not value > 0:
        return 0.0
    decade = 10.0 ** math.floor(math.log10(value))
    return next(m * decade for m in (1, 2, 5, 10) if m * decade >= value * (1 - 1e-12))


def _percentiles(errs: Sequence[float]) -> tuple[float, float, float, float]:
    """median, p99, p99.9 and max; "higher" picks observed values, so inf never turns to NaN."""
    if not len(errs):
        return (float("nan"),) * 4
    p = np.percentile(np.asarray(errs), [50, 99, 99.9], method="higher")
    return float(p[0]), float(p[1]), float(p[2]), float(np.max(errs))


HEAD = (f"{'median':>9s}{'p99':>9s}{'p99.9':>9s}{'max':>9s}{'clear':>7s}{'floor':>7s}"
        f"{'max e':>10s}")


def _row(sel: Sequence[Sample]) -> str:
    clear = [s.err for s in sel if s.clear]
    return ("".join(f"{v:9.1e}" for v in _percentiles(clear)) + f"{len(clear):7d}"
            f"{len(sel) - len(clear):7d}{max((s.in_eps for s in sel), default=0.0):10.3g}")


def recommend(samples: Sequence[Sample]) -> float:
    """The next of 1, 2, 5 × 10^k at or above max(10 × p99.9, 2 × max) of r, clear samples."""
    errs = [s.err for s in samples if s.clear]
    if not errs:
        return 0.0
    _, _, p999, top = _percentiles(errs)
    return round_up(max(10 * p999, 2 * top))


def report(samples: list[Sample], drawn: dict[str, list[Case]], impl_dtypes: dict[str, set[str]],
           oracle_names: Sequence[str]) -> None:
    """Print the percentile tables, the worst samples and the recommended rtols."""
    for dtype in drawn:
        rows = [s for s in samples if s.dtype == dtype]
        print(f"\n== {dtype}: reference_impl in {dtype} ({len(drawn[dtype])} cases; it returned "
              f"{', '.join(sorted(impl_dtypes[dtype]))}) against float64 oracles ==")
        print(f"r over the samples clear of the floor; 'clear'/'floor': how many samples; "
              f"'max e': over all, in ε (atol = {tolerances.ATOL_EPS_FACTOR:g})")
        print(f"{'oracle':7s}{'quantity':14s}{HEAD}")
        for name in oracle_names:
            for kind in (*KINDS, "all"):
                print(f"{name:7s}{kind:14s}"
                      + _row([s for s in rows if s.oracle == name and kind in ("all", s.kind)]))
        print(f"\n{'oracle':7s}{'depth L':14s}{HEAD}")
        for name in oracle_names:
            for depth in sorted({s.depth for s in rows}):
                print(f"{name:7s}{depth:<14d}"
                      + _row([s for s in rows if s.oracle == name and s.depth == depth]))
        print("\nworst sample clear of the floor, per oracle:")
        for name in oracle_names:
            clear = [s for s in rows if s.oracle == name and s.clear]
            if not clear:
                continue
            w = max(clear, key=lambda s: s.err)
            c = drawn[dtype][w.case]
            label = w.kind if w.layer is None else f"{w.kind}[{w.layer}]"
            print(f"  {name:6s} r {w.err:.1e}: {label} impl {w.x:.9g}, oracle {w.y:.9g} "
                  f"(widths {list(c.widths)}, {', '.join(c.activations) or 'no hidden layer'}, "
                  f"{c.loss}, batch {c.batch})")

    print("\nrecommended rtol: the next of 1, 2, 5 × 10^k at or above max(10 × p99.9, 2 × max) of"
          "\nr over the samples clear of the floor ('-': u covered every difference). 'share':"
          "\nthe largest fraction of its allowance rtol (|y| + s) + u + atol that any entry of any"
          "\nsample uses (1 fails), with the recommended rtol and with the table's rtol now.")
    print(f"{'oracle':7s}{'dtype':9s}{'p99.9':>9s}{'max':>9s}{'max e':>10s}{'recommended':>13s}"
          f"{'share':>9s}{'table now':>11s}{'share':>9s}")
    for dtype in drawn:
        for name in oracle_names:
            sel = [s for s in samples if s.dtype == dtype and s.oracle == name]
            _, _, p999, top = _percentiles([s.err for s in sel if s.clear])
            rec, now = recommend(sel), tolerances.lookup(name, dtype).rtol
            print(f"{name:7s}{dtype:9s}{p999:9.1e}{top:9.1e}{max(s.in_eps for s in sel):10.3g}"
                  f"{f'{rec:.0e}' if rec > 0 else '-':>13s}"
                  f"{max(s.share(rec) for s in sel) if rec > 0 else float('nan'):9.2g}"
                  f"{now:11.0e}{max(s.share(now) for s in sel):9.2g}")
    print("\nWhy: a float32 implementation against a float64 truth errs by its own rounding, so the"
          "\noracles' rows coincide (they agree with each other to ~1e-14). rtol must cover r where"
          "\na quantity stands clear of the floor; where it cancels to about 0, atol covers it"
          "\n(max e against 64). 10 × p99.9 and 2 × max keep a margin for cases not drawn here;"
          "\na share far below 1 shows the margin in the comparison's own terms.")


def main() -> None:
    """Parse the options, draw the cases, measure and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000, help="cases per dtype (2000)")
    parser.add_argument("--dtypes", default="float32,float64",
                        help="comma-separated dtypes of the implementation (float32,float64)")
    parser.add_argument("--oracles", default=",".join(oracles.NAMES),
                        help="comma-separated oracles (torch,jax,fd)")
    parser.add_argument("--seed", type=int, default=None,
                        help="Hypothesis seed (default: derandomized, the same cases every run)")
    args = parser.parse_args()
    oracle_names = [n for n in args.oracles.split(",") if n]
    samples: list[Sample] = []
    drawn: dict[str, list[Case]] = {}
    impl_dtypes: dict[str, set[str]] = {}
    for dtype in [d for d in args.dtypes.split(",") if d]:
        t0 = time.perf_counter()
        drawn[dtype] = draw_cases(args.cases, seed=args.seed, dtype=dtype)
        found, impl_dtypes[dtype] = measure(drawn[dtype], oracle_names)
        samples.extend(found)
        print(f"{dtype}: {len(drawn[dtype])} cases, {len(found)} samples in "
              f"{time.perf_counter() - t0:.1f} s")
    report(samples, drawn, impl_dtypes, oracle_names)


if __name__ == "__main__":
    main()
