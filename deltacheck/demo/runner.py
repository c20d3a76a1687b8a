"""``deltacheck demo``: the lecture's claims about backpropagation, shown by measurement.

1. Output errors are y − t for the canonical pairs, and what they are for the others
   (deltacheck.demo_output_errors).
2. The whole SGD loop agrees step by step with torch and jax (deltacheck.demo.training).
3. The worked example of a two-layer tanh network, in numbers (deltacheck.demo.worked).
4. What a gradient costs, backprop against finite differences (deltacheck.demo.cost).
5. The other lessons: the chain rule over paths, depth, slow learning, finite differences'
   step, memory and canonical links (deltacheck.demo.lessons); ``lessons=False`` skips them.

``run`` returns two documents: the JSON results (schema ``deltacheck-demo/2``: the sections of
``deltacheck-demo/1`` and beside them one per lesson and the cost's claims) and the same with
the details the HTML report draws.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from deltacheck.core.errors import DeltacheckError
from deltacheck.core.numbers import json_clean
from deltacheck.core.words import plural
from deltacheck.demo import cost as demo_cost
from deltacheck.demo import lessons as demo_lessons
from deltacheck.demo import output_errors as demo_output_errors
from deltacheck.demo import student_sections
from deltacheck.demo import training as demo_training
from deltacheck.demo import worked as demo_worked
from deltacheck.demo.output_errors import PAIRS, Pair
from deltacheck.demo.student import Student
from deltacheck.results import document

SCHEMA = "deltacheck-demo/2"
FRAMEWORKS = ("torch", "jax")


@dataclass(frozen=True)
class Config:
    """How much the demo measures; ``pairs`` is open so that a test can plant a wrong claim."""

    cases: int = 200
    seed: int = 0
    training_scale: float = 1.0  # multiplies the epochs of every task
    widths: Sequence[int] = demo_cost.WIDTHS
    pairs: Sequence[Pair] = PAIRS
    student: Student | None = None  # the demo on the student's backprop instead of the reference
    lessons: bool = True  # the lessons beyond the first four sections (False: when time matters)

    def __post_init__(self) -> None:
        if not isinstance(self.cases, int) or self.cases < 1:
            raise DeltacheckError(f"--cases {self.cases!r} must be a whole number ≥ 1")
        if len(self.widths) < 2:
            raise DeltacheckError("widths: give at least two widths to fit a slope")


@dataclass
class Outcome:
    """The JSON document, the report's document (a superset) and the exit code."""

    document: dict[str, Any]
    report: dict[str, Any]
    exit_code: int
    claims: list[tuple[bool, str]] = field(default_factory=list)


def environment() -> dict[str, Any]:
    """The versions the demo ran with, and the machine's cores and load (timings need them)."""
    versions = document.environment("float64")
    env: dict[str, Any] = {key: versions[key] for key in ("python", "platform")}
    env["cores"] = str(os.cpu_count())
    if hasattr(os, "getloadavg"):  # the timings mean little without the machine's load
        env["load average (1, 5, 15 min)"] = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    for name in ("deltacheck", "numpy", "torch", "jax", "jaxlib", "hypothesis"):
        env[name] = versions[name] or "not installed"
    env["optax"] = document.version_of("optax") or "not installed"
    return env


def claims(output_rows: Sequence[dict[str, Any]], training_rows: Sequence[dict[str, Any]],
           worked: dict[str, Any] | None) -> list[tuple[bool, str]]:
    """Every claim the demo shows, with whether it holds."""
    out = []
    for row in output_rows:
        name = f"{row['detail']['title']}"
        if row["canonical"]:
            what = f"δ = y − t (max {_ulp(row['max_dev_ulp'])})"
        else:
            what = (f"δ ≠ y − t, and δ = the general form "
                    f"(max {_ulp(row['detail']['general_dev_ulp'])})")
        out.append((demo_output_errors.holds(row), f"{name}: {what}"))
    for task in training_rows:
        for fw, r in task["frameworks"].items():
            out.append((demo_training.holds(r),
                        f"{task['task']} ({task['loss']}): reference and {fw} weights agree at all "
                        f"{plural(task['steps'], 'step')} "
                        f"(max rel diff {r['max_rel_weight_diff']:.1e})"))
    if worked is None:  # the student's worked example is claimed by student_sections
        return out
    out.append((bool(worked["matches"]),
                "worked example: every formula's numbers equal autograd's "
                f"(max abs diff {max(s['max_abs_diff'] for s in worked['steps']):.1e})"))
    return out


def _ulp(v: float) -> str:
    return f"{v:.3g} ulp" if math.isfinite(v) else str(v)


def _check_frameworks() -> None:
    from deltacheck import oracles

    for name in FRAMEWORKS:
        reason = oracles.unavailable_reason(name)
        if reason:
            raise DeltacheckError(f"demo: {reason}; the demo measures against both torch and jax")


def run(config: Config = Config(), progress: Callable[[str], None] = lambda s: None) -> Outcome:
    """Measure every claim; the verdict is pass only if every one holds."""
    _check_frameworks()
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        progress(f"{name} …")
        t0 = time.perf_counter()
        out = fn()
        timings[name] = round(time.perf_counter() - t0, 2)
        return out

    output_rows = timed("output errors", lambda: demo_output_errors.run(
        config.pairs, cases=config.cases, seed=config.seed, oracles=FRAMEWORKS))
    if config.student is None:
        worked = timed("worked example", lambda: demo_worked.run(FRAMEWORKS))
        training = timed("training loop", lambda: demo_training.run(
            config.seed, scale=config.training_scale, frameworks=FRAMEWORKS))
        yours: dict[str, Any] | None = None
    else:
        yours = student_sections.measure(config.student, cases=config.cases, seed=config.seed,
                                         scale=config.training_scale, timed=timed)
        worked, training = yours["worked"], yours["training"]
    cost = timed("cost", lambda: demo_cost.run(config.widths, seed=config.seed))
    lessons = demo_lessons.run(config.seed, config.student, timed) if config.lessons else {}
    shown = claims(output_rows, training, worked) if yours is None else \
        claims(output_rows, [], None) + student_sections.claims(yours)
    shown += demo_cost.claims(cost) + demo_lessons.claims(lessons)
    verdict = "pass" if all(ok for ok, _ in shown) else "fail"
    document = json_clean({
        "schema": SCHEMA,
        "verdict": verdict,
        "output_errors": [{k: row[k] for k in ("loss", "output", "canonical", "cases",
                                                "max_dev_ulp", "matches_y_minus_t",
                                                "matches_general_form")}
                          for row in output_rows],
        "training": [{"task": task["task"], "loss": task["loss"], "steps": task["steps"],
                      "framework": fw, "max_rel_weight_diff": r["max_rel_weight_diff"]}
                     for task in training for fw, r in task["frameworks"].items()],
        "worked_example": worked,
        "cost": [{k: row[k] for k in ("params", "forward_s", "backprop_s", "fd_s")}
                 for row in cost["rows"]],
        "cost_claims": demo_cost.claim_rows(cost),
        "lessons_run": config.lessons,
        **lessons,
        **({"implementation": student_sections.document(yours)} if yours else {}),
    })
    report = {**document, "details": json_clean({
        "output_errors": [row["detail"] for row in output_rows],
        "match_ulp": demo_output_errors.MATCH_ULP,
        "agree_rel": demo_training.AGREE_REL,
        "training": training,
        "jax_optimizer": demo_training.jax_optimizer(),
        "cost": {**cost, "rows": cost["rows"]},
        "claims": [{"holds": ok, "text": text} for ok, text in shown],
        "run": {"seed": config.seed, "cases": config.cases,
                "wall_time_s": round(time.perf_counter() - started, 1), "timings": timings},
        "environment": environment(),
    })}
    return Outcome(document=document, report=report, exit_code=0 if verdict == "pass" else 1,
                   claims=shown)
