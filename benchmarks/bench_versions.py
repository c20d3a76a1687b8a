"""Marginal throughput of two or more versions of deltacheck, run alternately in one session.

Run from the repository root:  python benchmarks/bench_versions.py REV [REV ...] [--rounds 3]

Each REV (a commit, tag or branch; ``WORKTREE`` for the files as they are now) is exported
into a temporary folder and imported from there. Every round runs each version once, in a
fresh process and in alternating order, measuring what ``bench_campaign.py --parts
throughput`` measures: 600 / (wall(620 cases) − wall(20 cases)), all three oracles, the
default ranges, seed 3, after a warm-up run. The machine's speed drifts over a day; versions
measured side by side drift together, so the ratios to the first REV are what to read.

Note that Hypothesis draws some numbers from constants in the source of the code under test,
so two versions do not check quite the same cases: the ratio includes that.

A version may check a case twice (Hypothesis draws many cases more than once) and count it
twice. The implementation under test is wrapped to count the *distinct* cases it is called on
(a digest of every array it receives): "distinct/s" is the rate that compares across versions
that skip repeats and versions that do not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("oracles", "reference_impl", "reports")  # installed as deltacheck.<name>

CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import deltacheck
from deltacheck import reference_impl
from deltacheck import campaign
from deltacheck.oracles import fd
assert deltacheck.__file__.startswith(sys.argv[1]) and fd.__file__.startswith(sys.argv[1])

import hashlib

def counted(seen):
    def backprop(weights, biases, activations, loss, x, t):
        digest = hashlib.blake2b(repr((list(activations), loss, x.dtype.str)).encode())
        for array in (*weights, *biases, x, t):
            digest.update(repr(array.shape).encode())
            digest.update(array.tobytes())
        seen.add(digest.digest())
        return reference_impl.backprop(weights, biases, activations, loss, x, t)
    return backprop

def wall(n):
    seen = set()
    config = campaign.Config(impl=counted(seen), impl_spec="reference", examples=n, seed=3)
    start = time.perf_counter()
    campaign.run(config)
    return time.perf_counter() - start, len(seen)

wall(20)
small, few = wall(20)
big, many = wall(620)
print(600 / (big - small), (many - few) / (big - small))
"""


def export(rev: str, folder: Path) -> Path:
    """The tree of ``rev`` in ``folder``, laid out as the installed package is."""
    folder.mkdir(parents=True)
    if rev == "WORKTREE":
        for name in ("deltacheck", *PACKAGES):
            shutil.copytree(ROOT / name, folder / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
    else:
        archive = subprocess.run(["git", "archive", rev, "deltacheck", *PACKAGES], cwd=ROOT,
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    for name in PACKAGES:  # deltacheck.oracles and friends, as package-dir maps them
        os.symlink(folder / name, folder / "deltacheck" / name)
    return folder


def main() -> None:
    """Export the versions, alternate them, print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revs", nargs="+")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {rev: [] for rev in args.revs}
    distinct: dict[str, list[float]] = {rev: [] for rev in args.revs}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {rev: export(rev, Path(tmp) / f"v{i}") for i, rev in enumerate(args.revs)}
        for r in range(args.rounds):
            for rev in args.revs if r % 2 == 0 else args.revs[::-1]:
                out = subprocess.run([sys.executable, "-c", CHILD, str(trees[rev])],
                                     capture_output=True, text=True, cwd=tmp)
                if out.returncode:
                    raise SystemExit(f"{rev}: {out.stderr[-2000:]}")
                rate, unique = out.stdout.split()[-2:]
                rates[rev].append(float(rate))
                distinct[rev].append(float(unique))
    one, five, _ = os.getloadavg()
    print(f"[versions] load {one:.2f} {five:.2f}; {args.rounds} rounds, alternating")
    first = statistics.median(rates[args.revs[0]])
    first_distinct = statistics.median(distinct[args.revs[0]])
    for rev in args.revs:
        median, unique = statistics.median(rates[rev]), statistics.median(distinct[rev])
        print(f"  {rev:12s} {median:6.0f} cases/s  ({', '.join(f'{x:.0f}' for x in rates[rev])})"
              f"  × {median / first:.2f}   {unique:6.0f} distinct/s "
              f"({', '.join(f'{x:.0f}' for x in distinct[rev])})  × {unique / first_distinct:.2f}")


if __name__ == "__main__":
    main()
