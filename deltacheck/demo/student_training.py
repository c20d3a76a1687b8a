"""The SGD loop driven by a student's gradients, beside torch's and jax's loops.

The student's loop takes the same batches from the same weights as torch.optim.SGD and jax. At
every step, its gradients are judged from its own current weights with ``run``'s rule (the
case of that batch through ``deltacheck.diagnosis.check_case``), so a correct implementation
that sums in another order passes; the trajectories are shown beside each other, not held to
a fixed limit. The first failing step keeps its failure and diagnosis; after it the loop goes
on without judging (the claim is already broken, and each judgement costs two autograd calls).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from deltacheck.core.case import Case
from deltacheck.core.errors import DeltacheckError
from deltacheck.demo import training as demo_training
from deltacheck.demo.student import Student, failure, judge
from deltacheck.demo.training import Task, Trajectory
from deltacheck.judging.calling import call


def _case(task: Task, W: Sequence[np.ndarray], b: Sequence[np.ndarray],
          batch: np.ndarray) -> Case:
    return Case(widths=task.widths, activations=task.activations, loss=task.loss,
                dtype="float64", weights=tuple(W), biases=tuple(b), x=task.x[batch],
                t=task.t[batch])


def student_loop(student: Student, task: Task, W: list[np.ndarray], b: list[np.ndarray],
                 batches: Sequence[np.ndarray]) -> tuple[Trajectory, dict[str, Any]]:
    """The loop with the student's gradients; and the judgement of every step."""
    W, b = [w.copy() for w in W], [v.copy() for v in b]
    params, losses = [], []
    judged, first = 0, None
    claim = f"{task.name}: your gradients agree with torch and jax at every step"
    for step, batch in enumerate(batches, 1):
        case = _case(task, W, b, batch)
        if first is None:
            result = judge(student, case)
            judged += 1
            got, truth = result.impl_values, result.oracle_values.get("torch")
            if result.verdict != "pass":
                first = {**failure(claim, result), "step": step}
        else:
            got, _, _ = call(case, student.impl, student.conventions)
            truth = None
        if got is None:  # it raised or returned nothing readable: the loop cannot go on
            break
        gW = got.grad_weights if "grad_weights" in student.conventions.provides else None
        gb = got.grad_biases if "grad_biases" in student.conventions.provides else None
        if gW is None or gb is None:
            if truth is None:
                truth = _torch_truth(case)
            gW = gW if gW is not None else truth.grad_weights
            gb = gb if gb is not None else truth.grad_biases
        E = float(got.loss) if "loss" in student.conventions.provides else \
            _energy(task, [*W, *b], batch)  # what it does not give is computed, as torch does
        eta = task.learning_rate  # w ← w − η ∂E/∂w, as torch.optim.SGD and optax.sgd do
        W = [w - eta * np.asarray(g, dtype=np.float64) for w, g in zip(W, gW, strict=True)]
        b = [v - eta * np.asarray(g, dtype=np.float64) for v, g in zip(b, gb, strict=True)]
        params.append([p.copy() for p in (*W, *b)])
        losses.append(E)
    return (params, losses), {"steps_judged": judged, "failure": first,
                              "completed": len(params), "claim": claim}


def _energy(task: Task, params: Sequence[np.ndarray], batch: np.ndarray) -> float:
    """E of the batch at these parameters (for an implementation that returns no loss)."""
    y, t = demo_training.predict(task, params, task.x[batch]), task.t[batch]
    with np.errstate(all="ignore"):
        if task.loss == "mse":
            return float(0.5 * np.sum((y - t) ** 2))              # E = ½ Σ (y − t)²
        if task.loss == "bce":
            return float(-np.sum(t * np.log(y) + (1 - t) * np.log1p(-y)))
        return float(-np.sum(t * np.log(y)))                      # E = −Σ t log y


def _torch_truth(case: Case) -> Any:
    from deltacheck.judging.check import oracle_values

    value = oracle_values(case, ["torch"])["torch"]
    if isinstance(value, str):
        raise DeltacheckError(f"demo: {value}")
    return value


def run_task(student: Student, task: Task, seed: int,
             frameworks: Sequence[str] = ("torch", "jax")) -> dict[str, Any]:
    """``task`` trained with the student's gradients and with each framework's."""
    rng = np.random.default_rng(seed)
    W, b = demo_training.initial_weights(task.widths, rng)
    batches = demo_training.batch_order(len(task.x), task.batch_size, task.epochs, rng)
    (mine, my_losses), judgement = student_loop(student, task, W, b, batches)
    per_epoch = math.ceil(len(task.x) / task.batch_size)
    frames: dict[str, Any] = {}
    for fw in frameworks:
        params, losses = demo_training.LOOPS[fw](task, W, b, batches)
        diffs = demo_training.rel_diffs(mine, params[:len(mine)])
        frames[fw] = {"max_rel_weight_diff": max(diffs) if diffs else math.nan,
                      "diffs": demo_training._thin(diffs),
                      "epoch_loss": demo_training._epoch_sums(losses, per_epoch),
                      "score": demo_training.score(task, params[-1])}
    # the score of the last finite weights (the initial ones if the loop stopped at once):
    # a report shows a number, never NaN
    last = next((ps for ps in reversed(mine) if all(np.isfinite(p).all() for p in ps)),
                [*W, *b])
    score = demo_training.score(task, last)
    return {"task": task.name, "title": task.title, "loss": task.loss, "steps": len(batches),
            "widths": list(task.widths), "activations": list(task.activations),
            "learning_rate": task.learning_rate, "batch_size": task.batch_size,
            "epochs": task.epochs, "samples": len(task.x),
            "reference": {"epoch_loss": demo_training._epoch_sums(my_losses, per_epoch),
                          "score": score},
            "frameworks": frames, "picture": None, "student": judgement}


def holds(task: dict[str, Any]) -> bool:
    """Every step judged passed, and the loop ran to its end."""
    s = task["student"]
    return s["failure"] is None and s["completed"] == task["steps"]


def hidden_activation(student: Student) -> str | None:
    """tanh, the tasks' own, unless the student declares activations without it: then the
    first of relu and sigmoid it supports (the frameworks' loops know these three)."""
    supported = getattr(student.impl, "activations", None)
    if supported is None:
        return "tanh"
    return next((name for name in ("tanh", "relu", "sigmoid") if name in supported), None)


def run(student: Student, seed: int = 0, *, scale: float = 1.0,
        frameworks: Sequence[str] = ("torch", "jax")) -> list[dict[str, Any]]:
    """Every demo task whose loss the student supports, trained and judged (with its hidden
    activation replaced by one the student supports, where it declares which)."""
    hidden = hidden_activation(student)
    if hidden is None:
        return []
    out = []
    for i, task in enumerate(demo_training.tasks(seed, scale=scale)):
        if task.loss in student.losses:
            task = replace(task, activations=tuple(hidden for _ in task.activations))
            out.append(run_task(student, task, seed + i, frameworks))
    return out
