"""Measure how far a float32 implementation lands from the float64 oracles: the float32 rtols.

Run from the repository root:  python benchmarks/measure_float32.py [--cases 2000]

Cases come from ``deltacheck.strategies.cases(dtype=...)`` (default bounds, derandomized, so
every run sees the same cases). ``reference_impl.backprop`` computes in the case's dtype; the
oracles promote the same values exactly to float64 and compute there (they always do).

The error of one entry is the smallest rtol that would pass it, without the rounding floor:

    err = max(0, |x − y| − u) / (|y| + s),

x the implementation's value, y the oracle's, s the largest |y| of that quantity, u the
oracle's error bar (finite differences only; 0 for torch and jax). This is
``deltacheck.compare``'s criterion |x − y| ≤ rtol (|y| + s) + u + atol with atol left out,
so a recommendation built on it does not lean on atol. Unjudged entries (kinks) are left out
as the comparison leaves them out. One sample is the worst entry of one quantity of one case
(E, δ[l], ∂W[l] or ∂b[l]): the number ``compare`` reports and judges.
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

import oracles
import reference_impl
from deltacheck import tolerances
from deltacheck.case import Case
from deltacheck.check import activation_objects
from deltacheck.compare import normalise
from oracles.base import QUANTITIES, Gradients

KINDS = ("loss", *QUANTITIES)


@dataclass(frozen=True)
class Sample:
    """The worst judged entry of one quantity of one case against one oracle."""

    dtype: str
    oracle: str
    kind: str
    layer: int | None
    depth: int
    err: float  # max(0, |x − y| − u) / (|y| + s)
    err_raw: float  # |x − y| / (|y| + s): without the oracle's error bar u either
    err_atol: float  # max(0, |x − y| − u − atol) / (|y| + s): what compare's verdict rests on
    in_eps: float  # max(0, |x − y| − u) / (ε max(1, |E|)): the floor atol would need, in ε
    case: int
    x: float
    y: float


def _worst(x: np.ndarray, y: np.ndarray, unjudged: np.ndarray | None, u: Any,
           atol: float) -> tuple[float, ...] | None:
    """(err, raw, with atol, in ε) and (x, y) at the worst judged entry; None if none is judged."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    judged = np.ones(y.shape, dtype=bool) if unjudged is None else ~np.asarray(unjudged)
    if not judged.any():
        return None
    s = float(np.abs(y[np.isfinite(y)]).max(initial=0.0))
    finite = np.isfinite(x) & np.isfinite(y)
    diff = np.where(finite, np.abs(x - y), np.inf)
    scale = np.abs(y) + s

    def ratio(excess: np.ndarray) -> np.ndarray:
        # 0 where nothing is left over (even where y and s are 0); inf where x or y is not finite
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(excess > 0, excess / scale, 0.0)

    err, raw, err_atol = (np.where(judged, ratio(excess), -1.0) for excess in
                          (diff - u, diff, diff - u - atol))
    at = np.unravel_index(int(np.argmax(err)), y.shape) if y.ndim else ()
    in_eps = float(np.where(judged, np.maximum(diff - u, 0.0), 0.0).max())
    in_eps /= atol / tolerances.ATOL_EPS_FACTOR  # atol = 64 ε max(1, |E|)
    return (float(err[at]), float(raw.max()), float(err_atol.max()), in_eps,
            float(x[at]), float(y[at]))


def samples_of(index: int, case: Case, impl: Gradients, name: str,
               oracle: Gradients) -> list[Sample]:
    """One sample per quantity (E, and δ, ∂W, ∂b of every layer) of a case against an oracle."""
    atol = tolerances.atol(case.dtype, oracle.loss)
    out = []
    for kind in KINDS:
        if kind == "loss":
            pairs = [(None, impl.loss, oracle.loss, None, oracle.loss_uncertainty)]
        else:
            pairs = [(m, impl.quantity(kind)[m], oracle.quantity(kind)[m],
                      oracle.unjudged.get(kind, [None] * case.n_layers)[m],
                      oracle.uncertainty.get(kind, [0.0] * case.n_layers)[m])
                     for m in range(case.n_layers)]
        for layer, x, y, unjudged, u in pairs:
            worst = _worst(np.asarray(x), np.asarray(y), unjudged, u, atol)
            if worst is not None:
                out.append(Sample(case.dtype, name, kind, layer, case.n_layers, *worst[:4],
                                  index, *worst[4:]))
    return out


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
    if value <= 0:
        return 0.0
    decade = 10.0 ** math.floor(math.log10(value))
    return next(m * decade for m in (1, 2, 5, 10) if m * decade >= value * (1 - 1e-12))


def _stats(sel: Sequence[Sample]) -> str:
    """median, p99, p99.9 and max of err; count; max of the raw err and of err with atol."""
    if not sel:
        return f"{'-':>9s}" * 4 + f"{0:>8d}" + f"{'-':>9s}" * 2
    errs = np.array([s.err for s in sel])
    p = np.percentile(errs, [50, 99, 99.9])
    return ("".join(f"{v:9.1e}" for v in (*p, errs.max())) + f"{len(errs):8d}"
            + f"{max(s.err_raw for s in sel):9.1e}{max(s.err_atol for s in sel):9.1e}")


HEAD = (f"{'median':>9s}{'p99':>9s}{'p99.9':>9s}{'max':>9s}{'samples':>8s}"
        f"{'max raw':>9s}{'max atol':>9s}")


def report(samples: list[Sample], drawn: dict[str, list[Case]], impl_dtypes: dict[str, set[str]],
           oracle_names: Sequence[str]) -> None:
    """Print the percentile tables, the worst samples and the recommended rtols."""
    for dtype in drawn:
        rows = [s for s in samples if s.dtype == dtype]
        print(f"\n== {dtype}: reference_impl in {dtype} ({len(drawn[dtype])} cases; it returned "
              f"{', '.join(sorted(impl_dtypes[dtype]))}) against float64 oracles ==")
        print(f"{'oracle':7s}{'quantity':14s}{HEAD}")
        for name in oracle_names:
            for kind in (*KINDS, "all"):
                print(f"{name:7s}{kind:14s}"
                      + _stats([s for s in rows if s.oracle == name and kind in ("all", s.kind)]))
        print(f"\n{'oracle':7s}{'depth L':14s}{HEAD}")
        for name in oracle_names:
            for depth in sorted({s.depth for s in rows}):
                print(f"{name:7s}{depth:<14d}"
                      + _stats([s for s in rows if s.oracle == name and s.depth == depth]))
        left = sum(s.err_atol > 0 for s in rows)
        floors = [tolerances.atol(dtype, 1.0), max(tolerances.atol(dtype, abs(s.y))
                                                    for s in rows if s.kind == "loss")]
        print(f"\nmax raw: without u as well; max atol: with atol = {tolerances.ATOL_EPS_FACTOR:g} "
              f"ε max(1, |E|) subtracted too ({floors[0]:.1e} to {floors[1]:.1e} here):\n"
              f"{left} of {len(rows)} samples keep an error above that floor. Largest "
              f"max(0, |x − y| − u) / (ε max(1, |E|)): "
              + ", ".join(f"{name} {max(s.in_eps for s in rows if s.oracle == name):.3g}"
                          for name in oracle_names) + " (ε of the implementation's dtype).")
        print("worst sample per oracle:")
        for name in oracle_names:
            w = max((s for s in rows if s.oracle == name), key=lambda s: s.err)
            c = drawn[dtype][w.case]
            label = w.kind if w.layer is None else f"{w.kind}[{w.layer}]"
            print(f"  {name:6s} err {w.err:.1e}: {label} impl {w.x:.9g}, oracle {w.y:.9g} "
                  f"(widths {list(c.widths)}, {', '.join(c.activations) or 'no hidden layer'}, "
                  f"{c.loss}, batch {c.batch})")

    print("\nrecommended rtol = the next of 1, 2, 5 × 10^k at or above max(10 × p99.9, 2 × max)"
          "\nof err over all quantities and depths (atol left out, so it does not lean on the "
          "floor;\n'-': the oracle's error bar u covered every difference):")
    print(f"{'oracle':7s}{'dtype':9s}{'p99.9':>9s}{'max':>9s}{'recommended':>13s}"
          f"{'table now':>11s}")
    for dtype in drawn:
        for name in oracle_names:
            errs = np.array([s.err for s in samples if s.dtype == dtype and s.oracle == name])
            p999, top = float(np.percentile(errs, 99.9)), float(errs.max())
            rec = round_up(max(10 * p999, 2 * top))
            print(f"{name:7s}{dtype:9s}{p999:9.1e}{top:9.1e}"
                  f"{f'{rec:.0e}' if rec > 0 else '-':>13s}"
                  f"{tolerances.lookup(name, dtype).rtol:11.0e}")


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
