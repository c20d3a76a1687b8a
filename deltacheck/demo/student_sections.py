"""The demo's sections on a student's implementation, put together: its output δ for every loss
it supports, the worked example with its numbers, and the SGD loop with its gradients.

``measure`` runs them; ``claims`` says which hold; ``document`` is what the JSON keeps under
``implementation``: the claims, and for each broken one the case, the first place it differs,
the student's number beside the truth, and the diagnosis ``run`` would give.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deltacheck.core.words import plural
from deltacheck.demo import student as demo_student
from deltacheck.demo import student_training
from deltacheck.demo import worked as demo_worked
from deltacheck.demo.student import Student


def measure(student: Student, *, cases: int, seed: int, scale: float,
            timed: Callable[[str, Callable[[], Any]], Any]) -> dict[str, Any]:
    """Every section on the student's code."""
    outputs = timed("your output δ", lambda: demo_student.output_rows(
        student, cases=max(1, min(cases, 50)), seed=seed))
    if "mse" in student.losses and student_training.hidden_activation(student) == "tanh":
        worked = timed("worked example", lambda: demo_student.worked(student))
    else:  # the worked example is MSE and tanh: the equations' numbers, claimed for no one
        worked = {**demo_worked.run(demo_student.ORACLES), "student": False, "failure": None}
    training = timed("training loop", lambda: student_training.run(
        student, seed, scale=scale, frameworks=demo_student.ORACLES))
    return {"spec": student.spec, "conventions": student.conventions.to_json(),
            "outputs": outputs, "worked": worked, "training": training}


def claims(yours: dict[str, Any]) -> list[tuple[bool, str]]:
    """Every claim on the student's code, with whether it holds."""
    out = []
    for row in yours["outputs"]:
        where = "" if row["holds"] else f" — {_where(row['failure'])}"
        out.append((bool(row["holds"]), f"{row['claim']} (judged as run judges, "
                                         f"{plural(row['cases'], 'case')}){where}"))
    worked = yours["worked"]
    if worked.get("student"):
        where = "" if worked["failure"] is None else f" — {_where(worked['failure'])}"
        out.append((bool(worked["matches"]),
                    f"worked example: your numbers equal the equations' and autograd's{where}"))
    for task in yours["training"]:
        ok = student_training.holds(task)
        s = task["student"]
        where = "" if s["failure"] is None else \
            f" — step {s['failure']['step']}: {_where(s['failure'])}"
        if s["failure"] is None and s["completed"] < task["steps"]:
            where = f" — the loop stopped at step {s['completed'] + 1}"
        out.append((ok, f"{task['task']} ({task['loss']}): your gradients agree with torch and "
                        f"jax at every step ({plural(task['steps'], 'step')}){where}"))
    return out


def _where(fail: dict[str, Any] | None) -> str:
    """The first place a broken claim differs, and the diagnosis, in one line."""
    if not fail:
        return ""
    text = fail["message"]
    diagnosis = fail.get("diagnosis") or {}
    if diagnosis.get("detail"):
        text += f" (diagnosis: {diagnosis['detail']})"
    return text


def document(yours: dict[str, Any]) -> dict[str, Any]:
    """The JSON of the student's sections: claims, and what each broken one shows."""
    return {
        "spec": yours["spec"], "conventions": yours["conventions"],
        "output_delta": [{k: row[k] for k in ("loss", "output", "canonical", "claim", "cases",
                                               "holds", "from", "max_rel_dev_y_minus_t",
                                               "max_rel_dev_general", "examples", "failure")}
                         for row in yours["outputs"]],
        "worked_example": {"claimed": bool(yours["worked"].get("student")),
                           "holds": bool(yours["worked"]["matches"]),
                           "failure": yours["worked"]["failure"]},
        "training": [{"task": t["task"], "loss": t["loss"], "steps": t["steps"],
                      "steps_judged": t["student"]["steps_judged"],
                      "completed": t["student"]["completed"],
                      "holds": student_training.holds(t), "failure": t["student"]["failure"],
                      "max_rel_weight_diff": {fw: r["max_rel_weight_diff"]
                                              for fw, r in t["frameworks"].items()}}
                     for t in yours["training"]],
    }
