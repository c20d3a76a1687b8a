"""Wall time of one ``deltacheck audit``, network campaign included, beside its anchor.

Run from the repository root:  python benchmarks/bench_audit.py [--repeat 3]

Each repetition runs, in fresh processes and in alternating order (so that a noisy machine
slows both alike):
  - the audit:  deltacheck audit SPEC --seed K (default budget: --examples and --batches);
  - the anchor: deltacheck run --activation SPEC --activations NAME,identity --examples N
    --seed K, i.e. check 5 alone, the same campaign the audit runs.
It prints the median wall time of each, their ratio, the audit's own split over its checks
(from its JSON) and the load (uptime), and says whether the median audit is within 20 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 20.0


def _timed(cmd: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return time.perf_counter() - start, proc.returncode


def main() -> None:
    """Time the audit and its anchor, and print medians, ratio and split."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="examples/activations/swish.py:SWISH")
    ap.add_argument("--name", default="swish", help="the activation's name, for the anchor")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--examples", type=int, default=None, help="default: the audit's default")
    args = ap.parse_args()
    from deltacheck.audit.runner import AuditConfig

    examples = args.examples if args.examples is not None else AuditConfig.examples
    exe = [sys.executable, "-m", "deltacheck"]
    audits, anchors, splits = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for k in range(args.repeat):
            audit_cmd = [*exe, "audit", args.spec, "--seed", str(k), "--examples", str(examples),
                         "--json", str(out / "audit.json"), "--report", str(out / "audit.html")]
            anchor_cmd = [*exe, "run", "--activation", args.spec, "--activations",
                          f"{args.name},identity", "--examples", str(examples), "--seed", str(k),
                          "--json", str(out / "run.json"), "--report", str(out / "run.html"),
                          "--junit-xml", str(out / "junit.xml")]
            order = [("audit", audit_cmd), ("anchor", anchor_cmd)]
            for what, cmd in order if k % 2 == 0 else order[::-1]:
                seconds, code = _timed(cmd)
                (audits if what == "audit" else anchors).append(seconds)
                print(f"  {what:<6} run {k}: {seconds:6.1f} s (exit {code})", flush=True)
            splits.append(json.loads((out / "audit.json").read_text())["activations"][0]["seconds"])
    load = os.getloadavg()
    audit_s, anchor_s = statistics.median(audits), statistics.median(anchors)
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(f"audit  (deltacheck audit {args.spec}, {examples} network cases): median "
          f"{audit_s:.1f} s over {args.repeat}")
    print(f"anchor (deltacheck run, the same {examples} cases alone): median {anchor_s:.1f} s")
    print(f"ratio audit / anchor: {audit_s / anchor_s:.2f}")
    checks = splits[0].keys()
    print("audit split (median s): " + ", ".join(
        f"{c} {statistics.median(s[c] for s in splits):.2f}" for c in checks))
    verdict = "within" if audit_s <= TARGET_S else "OVER"
    print(f"{verdict} the {TARGET_S:.0f} s target")


if __name__ == "__main__":
    main()
