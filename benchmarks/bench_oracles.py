"""Per-case time of each oracle, of the reference implementation and of a whole check_case.

Run from the repository root:  python benchmarks/bench_oracles.py [--cases 500] [--seed 0]

Every case runs through every timed function before the next case starts, in an order that
rotates from case to case, so that a noisy machine slows all of them alike and the ratios to
``reference_impl.backprop`` (the anchor) stay meaningful. The other benchmark scripts import
the helpers here (``draw_cases``, ``Timer``, ``median_ms``).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from deltacheck import oracles, reference_impl
from deltacheck.core.case import Case
from deltacheck.judging.check import activation_objects, check_case
from deltacheck.strategies import cases


def draw_cases(n: int, *, seed: int | None, dtype: str = "float64",
               **bounds: Any) -> list[Case]:
    """``n`` cases from ``deltacheck.strategies.cases`` (default bounds), reproducibly.

    ``seed=None`` derandomizes (Hypothesis derives its seed from this function), any int
    seeds Hypothesis with it. Only the generate phase runs: nothing fails, nothing shrinks.
    """
    drawn: list[Case] = []

    @settings(max_examples=n, database=None, deadline=None, derandomize=seed is None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(cases(dtype=dtype, **bounds))
    def record(case: Case) -> None:
        drawn.append(case)

    if seed is not None:
        record = hypothesis_seed(seed)(record)
    record()
    return drawn


class Timer:
    """Wall-clock seconds of each call, per label; garbage collection is paused while timing."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}

    def __call__(self, label: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Call ``fn(*args)``, record how long it took under ``label``, return its result."""
        gc.disable()
        try:
            start = time.perf_counter()
            out = fn(*args)
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        self.times.setdefault(label, []).append(elapsed)
        return out


def median_ms(seconds: Sequence[float]) -> float:
    """The median of a list of durations, in milliseconds."""
    return 1e3 * statistics.median(seconds) if seconds else float("nan")


def rotated(items: Sequence[Any], k: int) -> list[Any]:
    """``items`` starting at position ``k`` (mod its length): each case runs them in a new order."""
    k %= len(items)
    return [*items[k:], *items[:k]]


def _subjects(oracle_names: Sequence[str]) -> dict[str, Callable[[Case, list[Any]], Any]]:
    def impl(case: Case, acts: list[Any]) -> Any:
        return reference_impl.backprop(*case.arguments())

    def oracle(name: str) -> Callable[[Case, list[Any]], Any]:
        module = oracles.get(name)
        return lambda case, acts: module.gradients(list(case.weights), list(case.biases), acts,
                                                   case.loss, case.x, case.t)

    def one_thread(fn: Callable[[Case, list[Any]], Any]) -> Callable[[Case, list[Any]], Any]:
        # torch's intra-op threads stall for milliseconds when another process holds a core,
        # even on these tiny tensors; one thread shows what that costs.
        def call(case: Case, acts: list[Any]) -> Any:
            import torch

            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return fn(case, acts)
            finally:
                torch.set_num_threads(threads)
        return call

    def check(case: Case, acts: list[Any]) -> Any:
        return check_case(case, reference_impl.backprop, oracle_names)

    subjects = {"reference_impl.backprop": impl,
                **{f"{n} oracle": oracle(n) for n in oracle_names}}
    if "torch" in oracle_names:
        subjects["torch oracle, 1 thread"] = one_thread(oracle("torch"))
    subjects[f"check_case({','.join(oracle_names)})"] = check
    return subjects


def run(n_cases: int, seed: int, oracle_names: Sequence[str]) -> None:
    """Draw the cases, time every subject on each, print the medians and ratios."""
    t0 = time.perf_counter()
    drawn = draw_cases(n_cases, seed=seed)
    print(f"drew {len(drawn)} cases with Hypothesis (seed {seed}, default bounds: 1–5 layers, "
          f"widths 1–8, batch 1–6) in {time.perf_counter() - t0:.1f} s")
    subjects = _subjects(oracle_names)
    for case in draw_cases(3, seed=seed + 1):  # warm-up: imports, jax's compilations
        for fn in subjects.values():
            fn(case, activation_objects(case.activations))
    # Pass 1 meets every shape for the first time (jax compiles its slicing per shape, and
    # whichever of "jax oracle" and check_case meets a shape first pays for it); pass 2 is the
    # steady state. Medians and ratios come from pass 2, totals from both.
    passes = {"cold": Timer(), "warm": Timer()}
    for name, timer in passes.items():
        t0 = time.perf_counter()
        for i, case in enumerate(drawn):
            acts = activation_objects(case.activations)
            for label in rotated(list(subjects), i):
                timer(label, subjects[label], case, acts)
        print(f"{name} pass: {len(subjects)} subjects × {len(drawn)} cases in "
              f"{time.perf_counter() - t0:.1f} s")
        parts = [sum(timer.times[label][i] for label in list(subjects)[:1 + len(oracle_names)])
                 for i in range(len(drawn))]
        timer.times = {**dict(list(timer.times.items())[:-1]),
                       "(impl + each oracle once, per case)": parts,
                       **dict(list(timer.times.items())[-1:])}
    cold, warm = passes["cold"].times, passes["warm"].times

    anchor = median_ms(warm["reference_impl.backprop"])
    print(f"\n{'subject':40s} {'median ms':>10s} {'p90 ms':>9s} {'× impl':>8s} "
          f"{'total s':>8s} {'cold total s':>13s} {'cold median':>12s}")
    for label, t in warm.items():
        med = median_ms(t)
        print(f"{label:40s} {med:10.3f} {1e3 * np.percentile(t, 90):9.3f} {med / anchor:8.1f} "
              f"{np.sum(t):8.2f} {np.sum(cold[label]):13.2f} {median_ms(cold[label]):12.3f}")
    print("\nmedian, p90, total: the warm pass; × impl: median per case divided by "
          "reference_impl.backprop's median in the same pass.")

    depth = np.array([c.n_layers for c in drawn])
    print("\nwarm median ms per case by depth L (number of weight layers):")
    print(f"{'subject':44s}" + "".join(f"{f'L={L}':>9s}" for L in range(1, depth.max() + 1)))
    for label, t in warm.items():
        arr = np.array(t)
        print(f"{label:44s}" + "".join(
            f"{1e3 * np.median(arr[depth == L]) if (depth == L).any() else float('nan'):9.3f}"
            for L in range(1, depth.max() + 1)))
    print(f"{'cases':44s}" + "".join(f"{int((depth == L).sum()):9d}"
                                     for L in range(1, depth.max() + 1)))


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500, help="number of cases (500)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (0)")
    parser.add_argument("--oracles", default=",".join(oracles.NAMES),
                        help="comma-separated oracles (torch,jax,fd)")
    args = parser.parse_args()
    run(args.cases, args.seed, [n for n in args.oracles.split(",") if n])


if __name__ == "__main__":
    main()
