"""What drawing a case costs: the campaign's strategy under a no-op Hypothesis test.

Run from the repository root:  python benchmarks/bench_draws.py [--repeats 3] [--examples 600]

Two subjects run under the same harness (the campaign's settings, generate phase only, a fixed
seed, a test that does nothing with its argument):

- ``cases``: ``strategies.cases()`` exactly as ``campaign.run_loss`` builds it (bce, every
  built-in activation, wide sizes on);
- ``anchor``: the same harness drawing one ``st.integers``, Hypothesis's own floor.

Each repeat runs both, in alternating order, after one warm-up run of each. Prints the median
ms per example of each, their ratio, and the load average: compare ratios between runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from deltacheck import strategies
from deltacheck.core import activations as registry


def _campaign_strategy() -> st.SearchStrategy[Any]:
    # campaign.run_loss with the default configuration, for one loss
    return strategies.cases(min_batch=1, max_batch=6, dtype="float64", max_layers=5,
                            max_width=8, activations=sorted(registry.REGISTRY), losses=["bce"],
                            wide_width=16, wide_batch=16)


def _ms_per_example(strategy: st.SearchStrategy[Any], examples: int, seed: int) -> float:
    """Wall ms per example of a no-op test drawing from ``strategy``."""
    calls = {"n": 0}

    def test(value: Any) -> None:
        calls["n"] += 1

    run = hypothesis_seed(seed)(settings(
        max_examples=examples, deadline=None, database=None, phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
        print_blob=False)(given(strategy)(test)))
    start = time.perf_counter()
    run()
    wall = time.perf_counter() - start
    return 1e3 * wall / calls["n"]


def main() -> None:
    """Parse the options, time both subjects and print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--examples", type=int, default=600)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    subjects = {"cases": _campaign_strategy(), "anchor": st.integers(0, 2**16)}
    for strategy in subjects.values():  # warm-up: imports, caches, first-call costs
        _ms_per_example(strategy, 100, args.seed)
    times: dict[str, list[float]] = {name: [] for name in subjects}
    for r in range(args.repeats):
        order = list(subjects) if r % 2 == 0 else list(reversed(subjects))
        for name in order:
            times[name].append(_ms_per_example(subjects[name], args.examples, args.seed + r))
    one, five, fifteen = os.getloadavg()
    print(f"{args.examples} examples, medians of {args.repeats} repeats "
          f"(load {one:.2f} {five:.2f} {fifteen:.2f})")
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"  {name:7s} {medians[name]:.3f} ms/example  "
              f"(runs: {', '.join(f'{v:.3f}' for v in t)})")
    print(f"  cases / anchor: {medians['cases'] / medians['anchor']:.2f}")


if __name__ == "__main__":
    main()
