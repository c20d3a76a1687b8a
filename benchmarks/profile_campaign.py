"""Where a campaign's time goes: cProfile of one process checking cases with all three oracles.

Run from the repository root:  python benchmarks/profile_campaign.py [--cases 620] [--top 35]

A 20-case run first (imports, JAX cache loads), then the profiled run; prints the profiled
marginal rate and the functions with the most time of their own and the most in total.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time

from deltacheck import campaign, reference_impl


def main() -> None:
    """Warm up, profile, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=620)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()

    def config(n: int) -> campaign.Config:
        return campaign.Config(impl=reference_impl.backprop, impl_spec="reference", examples=n,
                               seed=args.seed)

    campaign.run(config(20))
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    campaign.run(config(args.cases))
    profile.disable()
    wall = time.perf_counter() - start
    load = os.getloadavg()
    print(f"load {load[0]:.2f}; {args.cases} cases in {wall:.1f} s under the profiler "
          f"({args.cases / wall:.0f} cases/s profiled)")
    stats = pstats.Stats(profile)
    for order in ("tottime", "cumulative"):
        stats.sort_stats(order).print_stats(args.top)


if __name__ == "__main__":
    main()
