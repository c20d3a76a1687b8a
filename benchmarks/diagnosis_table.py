"""How often the diagnosis names a seeded bug's kind and first wrong quantity and layer.

For every bug of ``deltacheck.bugs``, a small campaign (seeded, torch as the oracle) finds and
shrinks a failure; the diagnosis of its minimal failing network is compared with what the bug
says it is (kind, first wrong quantity) and with the first layer where the bug's values differ
from the reference implementation's on that same network (found here by plain comparison,
independently of the oracles and tolerances).

    python benchmarks/diagnosis_table.py [--examples 150] [--markdown table.md]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

import numpy as np

from deltacheck import bugs, campaign, reference_impl
from deltacheck.case import Case
from deltacheck.compare import normalise
from deltacheck.evidence import walk_order


def _name(q: str, layer: int | None, n_layers: int) -> str:
    if q == "deltas":
        return "output_delta" if layer == n_layers - 1 else "hidden_delta"
    return q


def expected_layer(case: Case, backprop: Any) -> tuple[str, int | None] | None:
    """The first quantity, in the diagnosis's walk order, where the bug differs from the
    reference implementation on this case (exact up to 1e-13 of the quantity's scale)."""
    want, _ = normalise(reference_impl.backprop(*case.arguments()), case)
    got, _ = normalise(backprop(*case.arguments()), case)
    if want is None or got is None:
        return None
    for q, l in walk_order(case.n_layers):
        x = np.array(got.loss if l is None else got.quantity(q)[l], dtype=float)
        y = np.array(want.loss if l is None else want.quantity(q)[l], dtype=float)
        scale = max(1.0, float(np.abs(y[np.isfinite(y)]).max(initial=0.0)))
        with np.errstate(all="ignore"):
            same = (np.abs(x - y) <= 1e-13 * scale) | (np.isnan(x) & np.isnan(y))
        if not same.all():
            return _name(q, l, case.n_layers), l
    return None


def run_bug(bug: Any, examples: int, folder: str) -> dict[str, Any]:
    """A campaign on one bug; the diagnosis of its first minimal failure beside the expected."""
    config = campaign.Config(impl=bug.backprop, impl_spec=f"bugs:{bug.name}", profile="ci",
                             examples=examples, seed=0, oracles=("torch",),
                             failures_dir=folder)
    started = time.perf_counter()
    doc = campaign.run(config).document
    row: dict[str, Any] = {"bug": bug.name, "expected": f"{bug.kind} / {bug.first_wrong}",
                           "seconds": round(time.perf_counter() - started, 1)}
    minimal = [f for f in doc["failures"] if f["minimal"]]
    if not minimal:
        return {**row, "diagnosed": "no failure found", "score": None}
    failure = minimal[0]
    d = failure.get("diagnosis") or {}
    first = d.get("first_wrong") or {}
    case = Case.from_json(failure["case"])
    expected = expected_layer(case, bug.backprop)
    layer_text = "" if first.get("layer") is None else f"[{first.get('layer')}]"
    row["diagnosed"] = f"{d.get('kind')} / {first.get('q')}{layer_text}"
    row["expected_layer"] = None if expected is None else expected[1]
    row["detail"] = d.get("detail", "")
    row["network"] = (f"{case.widths}, {', '.join(case.activations) or '-'}, {case.loss}, "
                      f"batch {case.batch}")
    right_layer = expected is not None and expected == (first.get("q"), first.get("layer"))
    row["score"] = (d.get("kind") == bug.kind and first.get("q") == bug.first_wrong
                    and right_layer)
    return row


def main() -> None:
    """Run every seeded bug and print the table (bug, expected, diagnosed) with the score."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=150)
    parser.add_argument("--markdown", help="also write the table as markdown to this file")
    parser.add_argument("--only", help="comma-separated bug names")
    args = parser.parse_args()
    chosen = [b for b in bugs.BUGS if not args.only or b.name in args.only.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for bug in chosen:
            row = run_bug(bug, args.examples, folder)
            rows.append(row)
            mark = {True: "ok", False: "WRONG", None: "-"}[row["score"]]
            print(f"{mark:5} {row['bug']:32} expected {row['expected']:40} "
                  f"diagnosed {row['diagnosed']} ({row['seconds']} s)", flush=True)
    scored = [r for r in rows if r["score"] is not None]
    right = sum(bool(r["score"]) for r in scored)
    summary = (f"{right} of {len(scored)} diagnosed right ({right / max(1, len(scored)):.0%}); "
               f"{len(rows) - len(scored)} of {len(rows)} bugs gave no failure in "
               f"{args.examples} cases")
    print(summary)
    if args.markdown:
        lines = ["| bug | expected (kind / first wrong) | diagnosed | right | network | detail |",
                 "|---|---|---|---|---|---|"]
        for r in rows:
            layer = "" if r.get("expected_layer") is None else f" [layer {r['expected_layer']}]"
            mark = {True: "yes", False: "**no**", None: "–"}[r["score"]]
            lines.append(f"| {r['bug']} | {r['expected']}{layer} | {r['diagnosed']} | {mark} | "
                         f"{r.get('network', '')} | {r.get('detail', '')} |")
        lines.append("")
        lines.append(summary)
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
