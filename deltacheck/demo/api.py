"""``run_demo`` from Python: the lecture measured, on the reference or on a student's backprop,
as one call whose result renders in a notebook as a card beside the full report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from deltacheck.campaign.api import implementation
from deltacheck.core.conventions import declared
from deltacheck.demo import runner
from deltacheck.demo.student import Student
from deltacheck.reports.card import Card, Result, diagnosis_text
from deltacheck.results import output


def _first_failure(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The first broken claim on the student's code, in the order the report shows them."""
    yours = doc.get("implementation") or {}
    found = [r.get("failure") for r in yours.get("output_delta", [])]
    found.append((yours.get("worked_example") or {}).get("failure"))
    found += [t.get("failure") for t in yours.get("training", [])]
    return next((f for f in found if f), None)


def card(outcome: runner.Outcome, report: str | None) -> Card:
    """The demo's card: verdict, the first broken claim with where and why, every claim."""
    failed = [text for ok, text in outcome.claims if not ok]
    headline = "every claim holds" if not failed else \
        f"{len(failed)} of {len(outcome.claims)} claims do not hold"
    first = _first_failure(outcome.document)
    rows: list[list[Any]] = [["claim", "verdict"]]
    rows += [[text.split(" — ")[0], "pass" if ok else "fail"] for ok, text in outcome.claims]
    return Card(title="run_demo", verdict=str(outcome.document["verdict"]), headline=headline,
                first=(f"{first['claim']}: {first['message']}" if first else
                       failed[0] if failed else ""),
                diagnosis=diagnosis_text((first or {}).get("diagnosis")), report=report or "",
                rows=rows)


def run_demo(impl: Any = None, *, cases: int = 200, seed: int = 0, training_scale: float = 1.0,
             report: str | Path | None = "deltacheck-reports/demo.html", progress: bool = True,
             lessons: bool = True, **conventions: Any) -> Result:
    """``deltacheck demo`` (``--impl`` when ``impl`` is given) as one call; conventions as keywords.

    ``lessons=False`` leaves out the lessons beyond the first four sections (``--skip-lessons``).
    """
    student = None
    if impl is not None:
        backprop, spec = implementation(impl)
        student = Student(backprop, spec, declared(backprop, **conventions))
    def say(step: str) -> None:
        if progress:  # one line per section: a notebook shows stderr as it comes
            print(f"  {step}", file=sys.stderr, flush=True)

    outcome = runner.run(runner.Config(cases=cases, seed=seed, training_scale=training_scale,
                                       student=student, lessons=lessons), progress=say)
    written = None
    if report is not None:
        output.write_outputs(outcome.document, json_path=Path(report).with_suffix(".json"))
        output.write_outputs(outcome.report, report_path=report)
        written = str(report)
    return Result(document=outcome.document, card=card(outcome, written),
                  exit_code=outcome.exit_code, report=written)
