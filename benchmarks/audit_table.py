"""How many held-out activations get the verdict their author expects from ``deltacheck audit``.

The activations of ``examples/activations/heldout/`` were written after the audit and never
tuned against: ``correct.py`` (cancellation, tiny-argument rounding, kinks beyond ±20,
primitives a few ulp off, a dh written for numpy only) must pass, ``wrong.py`` (narrow bands,
errors far out, wrong slopes beside far kinks, overflow) must fail. Each file's ``EXPECTED``
maps a name to its verdict. The verdict here is that of checks 1 and 3 (derivative and
frameworks); the network check (5) is left out for speed unless ``--examples`` asks for it.

    python benchmarks/audit_table.py [--batches 2] [--seed 0] [--examples 0]
"""

from __future__ import annotations

import argparse
import runpy
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from deltacheck.audit import runner

HELDOUT = Path(__file__).resolve().parents[1] / "examples" / "activations" / "heldout"
FILES = ("correct.py", "wrong.py")


def specs() -> list[tuple[str, str]]:
    """Every held-out activation as (``file.py:NAME``, expected verdict)."""
    out = []
    for f in FILES:
        path = HELDOUT / f
        for name, verdict in runpy.run_path(str(path))["EXPECTED"].items():
            out.append((f"{path}:{name}", verdict))
    return out


def audit(spec: str, *, batches: int, seed: int, examples: int) -> dict[str, Any]:
    """One row: the audit's verdict of checks 1 and 3 (and 5 with examples), and why."""
    config = runner.AuditConfig(batches=batches, examples=examples, seed=seed)
    act = runner.resolve(spec)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        r = runner.audit_one(act, spec, config, seed)
    checks = ("derivative", "frameworks", *(("networks",) if examples else ()))
    failed = [c for c in checks if r[c]["verdict"] != "pass"]
    why = r["derivative"]["message"] or "; ".join(
        v["message"] for v in r["frameworks"].values() if isinstance(v, dict) and v.get("message"))
    return {"name": act.name, "got": "fail" if failed else "pass", "failed": failed,
            "why": why.splitlines()[0][:110] if why else "",
            "widened": r["derivative"].get("widened", {}), "seconds": r["wall_time_s"]}


def table(*, batches: int = 2, seed: int = 0, examples: int = 0) -> list[dict[str, Any]]:
    """Every held-out activation, audited, with the verdict expected."""
    return [{**audit(spec, batches=batches, seed=seed, examples=examples), "expected": verdict}
            for spec, verdict in specs()]


def main() -> None:
    """Print the table and the score."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--examples", type=int, default=0)
    args = p.parse_args()
    started = time.time()
    rows = table(batches=args.batches, seed=args.seed, examples=args.examples)
    print(f"{'activation':<20} {'expected':<8} {'got':<6} {'s':>5}  why")
    for r in rows:
        mark = "" if r["got"] == r["expected"] else "  <-- MISMATCH"
        print(f"{r['name']:<20} {r['expected']:<8} {r['got']:<6} {r['seconds']:>5.1f}  "
              f"{r['why']}{mark}")
    ok = sum(r["got"] == r["expected"] for r in rows)
    print(f"{ok}/{len(rows)} held-out activations get the expected verdict "
          f"(seed {args.seed}, {args.batches} batches, {time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
