"""The lecture's other lessons, each measured with a verdict.

- the chain rule over paths (deltacheck.demo.paths), on the student's δ too under ``--impl``;
- depth: ‖δ‖ per layer at initialisation (deltacheck.demo.depth);
- slow learning of a non-canonical pair (deltacheck.demo.slow_learning);
- finite differences' step, the V (deltacheck.demo.fd_step);
- memory, backprop against finite differences (deltacheck.demo.memory);
- canonical links in general (deltacheck.demo.links).

Each lesson module has ``run(seed)`` (the measurement) and ``claims(doc)`` (what it shows, with
whether it holds), so that a test can feed a claim a wrong measurement.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from deltacheck.core.case import Case
from deltacheck.demo import depth, fd_step, links, memory, paths, slow_learning
from deltacheck.demo.student import Student, judge

LESSONS: dict[str, tuple[str, ModuleType]] = {
    "chain_rule_paths": ("chain rule over paths", paths),
    "depth": ("depth", depth),
    "slow_learning": ("slow learning", slow_learning),
    "fd_step": ("finite differences' step", fd_step),
    "memory": ("memory", memory),
    "canonical_links": ("canonical links", links),
}


def student_deltas(student: Student) -> Callable[[Case], list[np.ndarray] | None] | None:
    """The student's δ per layer for a case (None when it raised); None if it gives no δ."""
    if not student.gives_deltas:
        return None

    def deltas(case: Case) -> list[np.ndarray] | None:
        got = judge(student, case).impl_values
        return None if got is None else [np.asarray(d, dtype=np.float64) for d in got.deltas]
    return deltas


def judged(module: ModuleType, doc: dict[str, Any]) -> dict[str, Any]:
    """The measurement with its claims and one verdict: pass only if every claim holds."""
    shown = module.claims(doc)
    return {**doc, "claims": shown, "verdict": "pass" if all(c["holds"] for c in shown) else "fail"}


def run(seed: int, student: Student | None,
        timed: Callable[[str, Callable[[], Any]], Any]) -> dict[str, dict[str, Any]]:
    """Every lesson measured and judged, by its JSON name."""
    out = {}
    theirs = student_deltas(student) if student is not None else None

    def measure(module: ModuleType) -> dict[str, Any]:
        doc = paths.run(seed, theirs) if module is paths else module.run(seed)
        return judged(module, doc)

    for name, (title, module) in LESSONS.items():
        out[name] = timed(title, functools.partial(measure, module))
    return out


def claims(measured: dict[str, dict[str, Any]]) -> list[tuple[bool, str]]:
    """Every lesson's claims, in the report's order."""
    return [(bool(c["holds"]), c["text"]) for doc in measured.values() for c in doc["claims"]]
