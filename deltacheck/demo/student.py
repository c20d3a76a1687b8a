"""The demo on a student's own backprop: its output δ and its worked example, judged as ``run``
judges.

Every number of the student's is read through the conventions it declares (``weight_layout``,
``reduction``, ``targets``, ``provides``) and judged with ``run``'s rule: the same tolerances,
rounding floors and diagnosis (``deltacheck.diagnosis.check_case``), never a fixed limit. A
claim the student's code breaks keeps its first failing case: where it differs, its numbers
beside the truth, and the diagnosis ``run`` would give.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed

from deltacheck.campaign import strategies
from deltacheck.core.case import Case
from deltacheck.core.conventions import Conventions
from deltacheck.core.verdicts import ERROR, FAIL
from deltacheck.demo import worked as demo_worked
from deltacheck.demo.output_errors import OUTPUTS, general_form, y_minus_t
from deltacheck.diagnosis import check_case
from deltacheck.judging.check import CaseResult

ORACLES = ("torch", "jax")

# run's losses as the demo's pairs: (loss of E, output activation g)
PAIR_OF_LOSS = {"mse": ("mse", "identity"), "bce": ("bce", "sigmoid"), "ce": ("ce", "softmax"),
                "mse_sigmoid": ("mse", "sigmoid"), "mse_tanh": ("mse", "tanh")}
CANONICAL = ("mse", "bce", "ce")


@dataclass(frozen=True)
class Student:
    """The implementation under test, how it was named, and the conventions it declares."""

    impl: Any
    spec: str
    conventions: Conventions

    @property
    def losses(self) -> tuple[str, ...]:
        """The losses it supports, in run's order."""
        return self.conventions.loss_names

    @property
    def gives_deltas(self) -> bool:
        """Whether it returns δ; if not, the output δ is read from ∂b at N = 1."""
        return "deltas" in self.conventions.provides


def judge(student: Student, case: Case) -> CaseResult:
    """One case judged as ``run`` judges it, diagnosed when it fails."""
    return check_case(case, student.impl, ORACLES, conventions=student.conventions)


def _at(index: tuple[int, ...] | None) -> list[int]:
    return [int(i) for i in index] if index is not None else []


def _failing(result: CaseResult, label: str | None = None) -> list[Any]:
    """The failing quantities of every oracle (only ``label``'s, e.g. δ[0], when given)."""
    return [(r, q) for r in result.oracles.values() for q in r.quantities
            if q.verdict in (FAIL, ERROR) and (label is None or q.label == label)]


def failure(claim: str, result: CaseResult, label: str | None = None) -> dict[str, Any]:
    """What a broken claim shows: the case, the first place it differs (in ``label`` when
    given, e.g. δ[0]), both numbers, and why."""
    chosen = _failing(result, label)[:1] or [(r, r.first_failure())
                                             for r in result.oracles.values()]
    first, message = None, result.first_message()
    for r, q in chosen:
        if q is not None:
            first = {"oracle": r.oracle, "quantity": q.label, "entry": _at(q.worst),
                     "theirs": q.impl_value, "truth": q.oracle_value, "rel_err": q.err}
            message = q.message or message
            break
    return {"claim": claim, "case": result.case.summary(), "message": message,
            "first": first, "diagnosis": result.diagnosis}


# ---- output δ: what the student returns against y − t and the general form ---------------------

def _draw(loss: str, n: int, seed: int, *, one_sample: bool, labels: bool) -> list[Case]:
    """``n`` one-layer cases (the output layer alone) drawn by Hypothesis for ``loss``."""
    strategy = strategies.cases(max_layers=1, min_width=2 if loss == "ce" else 1, max_width=6,
                                losses=[loss], regions=False, max_batch=1 if one_sample else 6,
                                one_hot=labels)
    drawn: list[Case] = []

    def collect(case: Case) -> None:
        drawn.append(case)

    run = hypothesis_seed(seed)(settings(
        max_examples=n, deadline=None, database=None, phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
        print_blob=False)(given(strategy)(collect)))
    run()
    return drawn


def output_delta(student: Student, result: CaseResult) -> np.ndarray | None:
    """The student's output δ: the one it returns, else ∂b of a one-sample case (∂b = δ)."""
    values = result.impl_values
    if values is None:
        return None
    if student.gives_deltas:
        return np.asarray(values.deltas[-1], dtype=np.float64)
    if "grad_biases" in student.conventions.provides and result.case.batch == 1:
        return np.asarray(values.grad_biases[-1], dtype=np.float64)[None, :]
    return None


def claim_text(loss: str) -> str:
    """The lecture's claim for the student's output δ under ``loss``."""
    if loss in CANONICAL:
        return "δ = y − t"
    return "δ = h′(a)(y − t), the general form (≠ y − t)"


def _formulas(case: Case) -> tuple[np.ndarray, np.ndarray]:
    loss, output = PAIR_OF_LOSS[case.loss]
    a = case.x @ case.weights[0].T + case.biases[0]
    y = OUTPUTS[output](a)
    return y_minus_t(output)(a, y, case.t)[0], general_form(loss, output)(a, y, case.t)[0]


def _rel(got: np.ndarray, want: np.ndarray) -> float:
    size = float(np.max(np.abs(want))) if want.size else 0.0
    diff = float(np.max(np.abs(got - want))) if got.size else 0.0
    if not np.isfinite(diff):
        return float("inf")
    return diff / size if size > 0 else diff


def output_rows(student: Student, *, cases: int, seed: int) -> list[dict[str, Any]]:
    """One row per loss the student supports: its output δ judged on drawn output layers."""
    rows = []
    labels = student.conventions.targets == "labels"
    for i, loss in enumerate(student.losses):
        drawn = _draw(loss, cases, seed + 101 + i, one_sample=not student.gives_deltas,
                      labels=labels)
        claim = f"your output δ for {loss}: {claim_text(loss)}"
        first_fail = None
        dev_claim = dev_general = 0.0
        shown: list[dict[str, Any]] = []
        for case in drawn:
            result = judge(student, case)
            delta = output_delta(student, result)
            ymt, general = _formulas(case)
            if delta is not None and delta.shape == ymt.shape:
                dev_claim = max(dev_claim, _rel(delta, ymt))
                dev_general = max(dev_general, _rel(delta, general))
                if len(shown) < 3:
                    shown.append({"theirs": delta[0].tolist(), "y_minus_t": ymt[0].tolist(),
                                  "general": general[0].tolist()})
            # the claim is about the output δ (∂b[0] where δ is read from it): a wrong loss
            # alone is for the training loop to show
            label = "δ[0]" if student.gives_deltas else "∂b[0]"
            broken = bool(result.impl_problem or result.nondeterministic
                          or _failing(result, label))
            if broken and first_fail is None:
                first_fail = failure(claim, result, label)
        rows.append({"loss": loss, "output": PAIR_OF_LOSS[loss][1],
                     "canonical": loss in CANONICAL, "claim": claim, "cases": len(drawn),
                     "holds": first_fail is None and bool(drawn),
                     "max_rel_dev_y_minus_t": dev_claim, "max_rel_dev_general": dev_general,
                     "from": "deltas" if student.gives_deltas else "grad_biases at N = 1",
                     "examples": shown, "failure": first_fail})
    return rows


# ---- the worked example, with the student's numbers ------------------------------------------

def worked_case() -> Case:
    """The worked example as a case: two layers, tanh, MSE, one sample."""
    W = demo_worked
    return Case(widths=(2, 3, 2), activations=("tanh",), loss="mse", dtype="float64",
                weights=(W.W1, W.W2), biases=(W.B1, W.B2), x=W.X[None, :], t=W.T[None, :])


def worked(student: Student) -> dict[str, Any]:
    """The worked example with the student's E, δ and gradients beside the equations.

    What the student does not provide keeps the formulas' value and is marked not provided.
    """
    result = judge(student, worked_case())
    values = demo_worked.formulas(demo_worked.W1, demo_worked.B1, demo_worked.W2,
                                  demo_worked.B2, demo_worked.X, demo_worked.T)
    theirs: dict[str, Any] = {}
    got = result.impl_values
    provides = student.conventions.provides
    if got is not None:
        if "loss" in provides:
            theirs["E"] = np.array(got.loss)
        if "deltas" in provides:
            theirs["delta2"], theirs["delta1"] = got.deltas[1][0], got.deltas[0][0]
        if "grad_weights" in provides:
            theirs["grad_W2"], theirs["grad_W1"] = got.grad_weights[1], got.grad_weights[0]
        if "grad_biases" in provides:
            theirs["grad_b2"], theirs["grad_b1"] = got.grad_biases[1], got.grad_biases[0]
    shown = demo_worked.run(ORACLES, values={**values, **theirs})
    for step in shown["steps"]:
        step["provided"] = step["key"] in theirs
        if not step["provided"]:
            step["agrees"] = True  # never failed, never passed: the step says not provided
    shown["matches"] = result.verdict == "pass" and bool(theirs)
    shown["student"] = True
    shown["failure"] = None if result.verdict == "pass" else failure(
        "worked example: your numbers equal the equations' and autograd's", result)
    return shown


def holds_all(rows: Sequence[dict[str, Any]]) -> bool:
    """Every output-δ row holds."""
    return all(row["holds"] for row in rows)
