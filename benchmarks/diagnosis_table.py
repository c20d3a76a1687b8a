"""How often the diagnosis names a seeded bug's kind and first wrong quantity and layer.

For every bug of ``deltacheck.bugs``, a small campaign (seeded, torch as the oracle) finds and
shrinks a failure; the diagnosis of its minimal failing network is compared with what the bug
says it is (kind, first wrong quantity) and with the first layer where the bug's values differ
from the reference implementation's on that same network (found here by plain comparison,
independently of the oracles and tolerances).

Bugs that hide in a region the campaign did not reach (|a| past 710, a hair from a kink, exact
0/1 targets, a 9th sample or unit) are then tried on a few hand-built cases in that region
(``directed_cases``); the first one that fails is diagnosed, and the table says so.

    python benchmarks/diagnosis_table.py [--examples 150] [--markdown table.md]
    python benchmarks/diagnosis_table.py --bugs benchmarks/heldout_bugs.py:BUGS

Bugs whose result depends on earlier calls or on chance (``stateful``, ``aliasing``,
``nondeterministic``) are scored on kind and first wrong quantity: calling them again here
to find the first differing layer would change what they return.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

import numpy as np

from deltacheck import bugs, campaign, reference_impl
from deltacheck.core import activations as registry
from deltacheck.core.case import Case
from deltacheck.core.conventions import declared
from deltacheck.core.loading import load_object
from deltacheck.diagnosis.diagnose import diagnosis_json
from deltacheck.judging.calling import call
from deltacheck.judging.check import check_case
from deltacheck.judging.compare import normalise
from deltacheck.judging.records import walk_order

HISTORY_KINDS = ("stateful", "aliasing", "nondeterministic")


def _name(q: str, layer: int | None, n_layers: int) -> str:
    if q == "deltas":
        return "output_delta" if layer == n_layers - 1 else "hidden_delta"
    return q


def expected_layer(case: Case, backprop: Any) -> tuple[str, int | None] | None:
    """The first quantity, in the diagnosis's walk order, where the bug differs from the
    reference implementation on this case (exact up to 1e-13 of the quantity's scale)."""
    want, _ = normalise(reference_impl.backprop(*case.arguments()), case)
    conventions = declared(backprop)
    got, _, _ = call(case, backprop, conventions)
    if want is None or got is None:
        return None
    for q, l in walk_order(case.n_layers):
        if q not in conventions.provides:
            continue
        x = np.array(got.loss if l is None else got.quantity(q)[l], dtype=float)
        y = np.array(want.loss if l is None else want.quantity(q)[l], dtype=float)
        scale = max(1.0, float(np.abs(y[np.isfinite(y)]).max(initial=0.0)))
        with np.errstate(all="ignore"):
            same = (np.abs(x - y) <= 1e-13 * scale) | (np.isnan(x) & np.isnan(y))
        if not same.all():
            return _name(q, l, case.n_layers), l
    return None


def _net(rng: np.random.Generator, widths: tuple[int, ...], acts: tuple[str, ...], loss: str,
         batch: int = 3) -> dict[str, Any]:
    L = len(widths) - 1
    t = {"mse": rng.normal(size=(batch, widths[-1])),
         "bce": rng.uniform(size=(batch, widths[-1])),
         "ce": rng.dirichlet(np.ones(widths[-1]), size=batch)}[loss]
    return {"widths": widths, "activations": acts, "loss": loss, "dtype": "float64",
            "weights": [rng.normal(size=(widths[l + 1], widths[l])) / np.sqrt(widths[l])
                        for l in range(L)],
            "biases": [0.3 * rng.normal(size=widths[l + 1]) for l in range(L)],
            "x": rng.normal(size=(batch, widths[0])), "t": t}


def _at(spec: dict[str, Any], layer: int, unit: int, sample: int, value: float) -> None:
    """Move one pre-activation to ``value`` through its bias (the net's own forward pass)."""
    case = Case(**spec)
    acts = [registry.get(n) for n in case.activations]
    z = case.x
    for l in range(layer):
        z = acts[l].h(z @ case.weights[l].T + case.biases[l], np)
    a = z @ case.weights[layer].T + case.biases[layer]
    spec["biases"][layer][unit] += value - a[sample, unit]


def directed_cases() -> list[Case]:
    """Hand-built cases in the regions where some bugs hide."""
    rng = np.random.default_rng(8)
    specs = []
    for act in ("relu", "leaky_relu"):  # a hair on either side of the kink, and exactly on it
        for value in (2e-6, -5e-6, 0.0):
            spec = _net(rng, (3, 4, 4, 2), (act, act), "mse")
            _at(spec, 1, 0, 0, value)
            specs.append(spec)
    for act in ("relu", "leaky_relu"):  # a sample at the origin, zero biases: a = 0 exactly
        spec = _net(rng, (3, 4, 2), (act,), "mse")
        spec["x"][0] = 0.0
        spec["biases"][0] = np.zeros(4)
        specs.append(spec)
    for act in ("tanh", "sigmoid", "softplus"):  # |a| past exp's range in the first layer
        spec = _net(rng, (3, 4, 2), (act,), "mse")
        spec["weights"][0] = spec["weights"][0] * 2e3
        specs.append(spec)
    for loss in ("ce", "bce"):  # logits past 710
        spec = _net(rng, (3, 4, 3), ("tanh",), loss)
        spec["weights"][1] = spec["weights"][1] * 2e3
        specs.append(spec)
    spec = _net(rng, (3, 4, 2), ("tanh",), "bce")  # logits past 37, exact 0/1 targets
    spec["weights"][1] = spec["weights"][1] * 60
    spec["t"] = (rng.uniform(size=spec["t"].shape) > 0.5).astype(float)
    specs.append(spec)
    spec = _net(rng, (3, 4, 3), ("tanh",), "ce")  # one-hot targets
    spec["t"] = np.eye(3)[rng.integers(0, 3, size=3)]
    specs.append(spec)
    spec = _net(rng, (3, 4, 2), ("tanh",), "mse")  # |y − t| past 1e3
    spec["t"] = spec["t"] * 1e4
    specs.append(spec)
    specs.append(_net(rng, (3, 9, 9, 9, 9), ("tanh",) * 3, "mse", batch=10))  # width, depth, N
    return [Case(**spec) for spec in specs]


def _diagnose_directed(bug: Any) -> tuple[dict[str, Any], Case] | None:
    for case in directed_cases():
        result = check_case(case, bug.backprop, ("torch",), conventions=declared(bug.backprop))
        if result.verdict in ("fail", "error"):
            return diagnosis_json(result) or {}, case
    return None


def run_bug(bug: Any, examples: int, folder: str, where: str = "deltacheck.bugs"
            ) -> dict[str, Any]:
    """A campaign on one bug; the diagnosis of its first minimal failure beside the expected.

    ``where`` is the module or file the bug can be imported from by name (``where:NAME``), so
    that a fresh process can check it too."""
    config = campaign.Config(impl=bug.backprop, impl_spec=f"{where}:{bug.name}", profile="ci",
                             examples=examples, seed=0, oracles=("torch",),
                             failures_dir=folder, conventions=declared(bug.backprop))
    started = time.perf_counter()
    doc = campaign.run(config).document
    row: dict[str, Any] = {"bug": bug.name, "expected": f"{bug.kind} / {bug.first_wrong}",
                           "seconds": round(time.perf_counter() - started, 1)}
    minimal = [f for f in doc["failures"] if f["minimal"]]
    row["found_by"] = "campaign"
    if minimal:
        d, case = minimal[0].get("diagnosis") or {}, Case.from_json(minimal[0]["case"])
    else:
        directed = _diagnose_directed(bug)
        if directed is None:
            return {**row, "diagnosed": "no failure found", "score": None, "found_by": ""}
        (d, case), row["found_by"] = directed, "directed case"
    first = d.get("first_wrong") or {}
    history = bug.kind in HISTORY_KINDS
    expected = None if history else expected_layer(case, bug.backprop)
    layer_text = "" if first.get("layer") is None else f"[{first.get('layer')}]"
    row["diagnosed"] = f"{d.get('kind')} / {first.get('q')}{layer_text}"
    row["expected_layer"] = None if expected is None else expected[1]
    row["detail"] = d.get("detail", "")
    row["network"] = (f"{case.widths}, {', '.join(case.activations) or '-'}, {case.loss}, "
                      f"batch {case.batch}")
    right_layer = history or (expected is not None
                              and expected == (first.get("q"), first.get("layer")))
    row["score"] = (d.get("kind") == bug.kind and first.get("q") == bug.first_wrong
                    and right_layer)
    return row


def main() -> None:
    """Run every seeded bug and print the table (bug, expected, diagnosed) with the score."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=150)
    parser.add_argument("--markdown", help="also write the table as markdown to this file")
    parser.add_argument("--only", help="comma-separated bug names")
    parser.add_argument("--bugs", help="FILE.py:NAME or MODULE:NAME, a sequence of SeededBug "
                                       "(default: deltacheck.bugs:BUGS)")
    args = parser.parse_args()
    pool = load_object(args.bugs, argument="--bugs") if args.bugs else bugs.BUGS
    chosen = [b for b in pool if not args.only or b.name in args.only.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for bug in chosen:
            row = run_bug(bug, args.examples, folder,
                          args.bugs.rsplit(":", 1)[0] if args.bugs else "deltacheck.bugs")
            rows.append(row)
            mark = {True: "ok", False: "WRONG", None: "-"}[row["score"]]
            print(f"{mark:5} {row['bug']:32} expected {row['expected']:40} "
                  f"diagnosed {row['diagnosed']} ({row['found_by'] or '-'}, {row['seconds']} s)",
                  flush=True)
    scored = [r for r in rows if r["score"] is not None]
    right = sum(bool(r["score"]) for r in scored)
    campaign_rows = [r for r in scored if r["found_by"] == "campaign"]
    right_c = sum(bool(r["score"]) for r in campaign_rows)
    summary = (f"{right} of {len(scored)} diagnosed right ({right / max(1, len(scored)):.0%}); "
               f"of those found by the campaign, {right_c} of {len(campaign_rows)}; "
               f"{len(rows) - len(scored)} of {len(rows)} bugs gave no failure in "
               f"{args.examples} cases nor in the directed cases")
    print(summary)
    if args.markdown:
        lines = ["| bug | expected (kind / first wrong) | diagnosed | right | found by | network "
                 "| detail |", "|---|---|---|---|---|---|---|"]
        for r in rows:
            layer = "" if r.get("expected_layer") is None else f" [layer {r['expected_layer']}]"
            mark = {True: "yes", False: "**no**", None: "–"}[r["score"]]
            lines.append(f"| {r['bug']} | {r['expected']}{layer} | {r['diagnosed']} | {mark} | "
                         f"{r['found_by']} | {r.get('network', '')} | {r.get('detail', '')} |")
        lines.append("")
        lines.append(summary)
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
