"""``check_backprop`` from Python: the campaign of ``deltacheck run`` as one call, whose result
renders in a notebook as a card beside a full report written to disk."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deltacheck.campaign import reproduce
from deltacheck.campaign.planning import Config
from deltacheck.campaign.runner import run
from deltacheck.core.conventions import declared
from deltacheck.core.errors import DeltacheckError
from deltacheck.core.loading import load_implementation
from deltacheck.oracles import checked_names
from deltacheck.reports.card import Card, Result, diagnosis_text
from deltacheck.results import console, output


def implementation(backprop: Any) -> tuple[Any, str]:
    """The implementation and how to name it: a callable, or a MODULE:NAME / FILE.py:NAME spec."""
    if backprop is None:
        from deltacheck.reference_impl import backprop as reference

        return reference, "deltacheck.reference_impl:backprop"
    if isinstance(backprop, str):
        return load_implementation(backprop), backprop
    if not callable(backprop):
        raise DeltacheckError(f"backprop={backprop!r} must be a callable backprop(weights, "
                              f"biases, activations, loss, x, t) or a 'MODULE:NAME' string")
    module = getattr(backprop, "__module__", None) or "__main__"
    return backprop, f"{module}:{getattr(backprop, '__qualname__', 'backprop')}"


def card(doc: dict[str, Any], report: str | None) -> Card:
    """The campaign's card: the verdict line, the first disagreement, its diagnosis, the matrix."""
    s = doc["summary"]
    first = next((f for f in doc.get("failures", []) if f.get("minimal")), None) or \
        next(iter(doc.get("failures", [])), None)
    rows: list[list[Any]] = [["loss", "oracle", "cases", "worst error", "verdict"]]
    rows += [[r["loss"], r["oracle"], r["cases"], f"{float(r['worst_err']):.1e}"
              if isinstance(r["worst_err"], (int, float)) else str(r["worst_err"]), r["verdict"]]
             for r in s.get("by_loss_oracle", [])]
    notes = [f"reproduce: {first['repro']}"] if first and first.get("repro") else []
    return Card(title="check_backprop", verdict=str(s["verdict"]),
                headline=console.verdict_line(doc),
                first=(first or {}).get("message") or s.get("first_disagreement") or "",
                diagnosis=diagnosis_text((first or {}).get("diagnosis")), report=report or "",
                rows=rows, notes=notes)


def check_backprop(backprop: Any = None, *, examples: int = 100, seed: int | None = 0,
                   losses: Sequence[str] | None = None,
                   activations: Sequence[str] | None = None,
                   oracles: Sequence[str] = ("torch", "jax", "fd"), dtype: str = "float64",
                   report: str | Path | None = "deltacheck-reports/backprop.html",
                   progress: bool = True, **conventions: Any) -> Result:
    """Check a backprop (callable or spec) as ``deltacheck run`` does; conventions as keywords."""
    impl, spec = implementation(backprop)
    conv = declared(impl, **conventions)
    names = checked_names(oracles if isinstance(oracles, str) else list(oracles),
                          argument="oracles")
    chosen = list(conv.loss_names) if losses is None else list(losses)
    json_path = Path(report).with_suffix(".json") if report is not None else None
    config = Config(impl=impl, impl_spec=spec, examples=examples, seed=seed, losses=chosen,
                    conventions=conv, activations=activations, oracles=names, dtype=dtype,
                    failures_dir=str(reproduce.cases_dir(json_path or Path("results.json"))))
    bar = console.Progress() if progress else None
    if bar is not None and "ipykernel" in sys.modules:
        bar.tty = True  # Jupyter redraws a line on "\r": the bar, not one line per loss
    outcome = run(config, bar)
    if bar is not None:
        bar.finish()
    doc = outcome.document
    written = None
    if report is not None:
        reproduce.save_cases(doc, config.failures_dir)
        output.write_outputs(doc, json_path=json_path, report_path=report)
        written = str(report)
    return Result(document=doc, card=card(doc, written), exit_code=outcome.exit_code,
                  report=written)
