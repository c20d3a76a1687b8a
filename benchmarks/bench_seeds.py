"""Every seeded bug over many random seeds of the quick profile: does any escape?

Run from the repository root:

    nice -n 10 python benchmarks/bench_seeds.py [--seeds 300] [--bugs a,b] [--counts 20]

Part 1 (misses): ``deltacheck selftest --profile quick`` with ``--seeds`` seeds drawn at random
(printed, so any miss can be replayed); per bug, the seeds that missed it, the median and the
largest number of cases it took to catch it. 0 misses in n seeds bounds the miss rate below
3/n at 95 % confidence (the rule of three): 300 seeds, about 1 %.

Part 2 (margins, ``--counts`` seeds): the bugs whose median catch is late (the overflow class)
checked through whole quick runs (600 cases, no stop at the first failure): in how many of
the 600 cases each one is caught, per seed; a margin of a few cases is a coin toss away from
a miss.

``--budget`` stops part 1 after that many seconds, reporting the seeds measured so far.
``--log FILE`` appends each seed's row (the cases each bug took, null for a miss) as a JSON
line, so a long measurement can be split: ``--skip K`` starts at the K-th seed of the
meta-seed's list, and two processes can measure disjoint ``--bugs`` at once.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import warnings
from collections import defaultdict

import numpy as np

from deltacheck.campaign import runner, selftest
from deltacheck.campaign.planning import Config


def misses(seeds: list[int], bugs: list[selftest.SeededBug], budget: float,
           log: str | None = None) -> dict[str, list]:
    """Per bug, the cases its catch took on each seed (None: missed)."""
    taken: dict[str, list] = defaultdict(list)
    started = time.time()
    for k, seed in enumerate(seeds):
        doc = selftest.run(profile="quick", seed=seed, bugs=bugs)
        for row in doc["bugs"]:
            taken[row["bug"]].append((seed, row["cases"] if row["caught"] else None))
        missed = [row["bug"] for row in doc["bugs"] if not row["caught"]]
        if log:
            with open(log, "a", encoding="utf-8") as out:
                out.write(json.dumps({"seed": seed, "cases": {
                    row["bug"]: row["cases"] if row["caught"] else None
                    for row in doc["bugs"]}}) + "\n")
        print(f"seed {seed} ({k + 1}/{len(seeds)}, {time.time() - started:.0f} s): "
              f"{'missed ' + ', '.join(missed) if missed else 'all caught'}", flush=True)
        if time.time() - started > budget:
            print(f"budget of {budget:.0f} s spent after {k + 1} seeds", flush=True)
            break
    return taken


def counts(seeds: list[int], bug: selftest.SeededBug) -> list[int]:
    """Failing generated cases of 600 in a whole quick run, per seed."""
    out = []
    for seed in seeds:
        config = Config(impl=bug.backprop, impl_spec=f"deltacheck.bugs:{bug.name}",
                        profile="quick", seed=seed)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            doc = runner.run(config).document
        out.append(sum(c["verdict"] == "fail" and c["phase"] in ("generate", "continue")
                       for c in doc["cases"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--counts", type=int, default=20, help="seeds for part 2 (0: skip)")
    parser.add_argument("--bugs", help="comma-separated bug names (default: all)")
    parser.add_argument("--budget", type=float, default=float("inf"), help="seconds for part 1")
    parser.add_argument("--skip", type=int, default=0, help="start at this seed of the list")
    parser.add_argument("--log", help="append each seed's row to this JSON-lines file")
    parser.add_argument("--meta-seed", type=int, default=None,
                        help="seed of the seeds (default: random, printed)")
    args = parser.parse_args()
    meta = args.meta_seed if args.meta_seed is not None else random.SystemRandom().randrange(2**31)
    rng = random.Random(meta)
    seeds = [rng.randrange(2**32 - 2000) for _ in range(args.seeds)][args.skip:]
    bugs = selftest.select(args.bugs.split(",") if args.bugs else None)
    print(f"meta-seed {meta}: {len(seeds)} seeds, {len(bugs)} bugs", flush=True)

    taken = misses(seeds, bugs, args.budget, args.log)
    n = len(next(iter(taken.values())))
    print(f"\npart 1: selftest --profile quick on {n} random seeds (meta-seed {meta})")
    print(f"{'bug':<30} {'missed':>6} {'median':>7} {'max':>5}  seeds missed")
    late = []
    for bug in bugs:
        rows = taken[bug.name]
        got = [c for _, c in rows if c is not None]
        missed = [s for s, c in rows if c is None]
        median = statistics.median(got) if got else float("nan")
        print(f"{bug.name:<30} {len(missed):>6} {median:>7.0f} {max(got, default=0):>5}  "
              f"{' '.join(map(str, missed))}")
        if missed or median > 60:
            late.append(bug)
    total = sum(c is None for rows in taken.values() for _, c in rows)
    print(f"misses: {total} in {n * len(bugs)} bug-seeds; with 0 misses in {n} seeds a bug's "
          f"miss rate is below {3 / n:.1%} at 95 % confidence")

    if args.counts and late:
        print(f"\npart 2: failing cases of 600 in whole quick runs, {args.counts} seeds")
        for bug in late:
            found = counts(seeds[:args.counts], bug)
            print(f"{bug.name:<30} min {min(found):>4}  median {statistics.median(found):>6.1f}"
                  f"  max {max(found):>4}  ({' '.join(map(str, found))})", flush=True)


if __name__ == "__main__":
    main()
