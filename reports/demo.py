"""The demo's HTML report: the lecture's claims about backprop, each with its measurement.

``render(doc)`` takes a ``deltacheck-demo/2`` document (a ``deltacheck-demo/1`` one renders
without the lessons). The plots need the ``details`` that
``deltacheck demo`` adds for its report; from the bare JSON the report shows the tables only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from deltacheck.reports import demo_lessons, demo_plots, env, svg
from deltacheck.reports.common import num

CSS = env.stylesheet("report.css", "demo.css")
COLOURS = {"reference": svg.INK, "torch": svg.PALETTE[0], "jax": svg.PALETTE[1]}
DASH = {"reference": "", "torch": "6 3", "jax": "2 3"}


LOSS_NAMES = {"mse": "MSE", "bce": "BCE", "ce": "cross-entropy"}


def short_title(row: Mapping[str, Any], targets: str = "") -> str:
    """"BCE + sigmoid", with "(Σt ≠ 1)" for targets whose rows do not sum to 1: fits a plot."""
    name = f"{LOSS_NAMES.get(row['loss'], row['loss'])} + {row['output']}"
    return name + (" (Σt ≠ 1)" if targets == "unnormalised" else "")


def _output_panels(rows: list[dict], details: list[dict]) -> list[dict]:
    panels = []
    for row, d in zip(rows, details, strict=False):
        panels.append({**d, **row, "plot": demo_plots.diagonal(
            d.get("points_claim") or [], d.get("points_general") or [],
            canonical=bool(row["canonical"]), title=short_title(row, d.get("targets", "")))})
    return panels


def _training(tasks: list[dict], agree: float) -> list[dict]:
    out = []
    for task in tasks:
        mine = "yours" if task.get("student") else "reference"
        curves = [demo_plots.Line(mine, COLOURS["reference"],
                                  list(enumerate(task["reference"]["epoch_loss"], 1)), width=2.4)]
        diffs = []
        for fw, r in task["frameworks"].items():
            curves.append(demo_plots.Line(fw, COLOURS[fw], list(enumerate(r["epoch_loss"], 1)),
                                          dash=DASH[fw], width=1.6))
            # an exact 0 has no place on a log axis: it is drawn at the axis' floor
            diffs.append(demo_plots.Line(fw, COLOURS[fw],
                                         [(s, max(num(v), 1e-18)) for s, v in r["diffs"]],
                                         width=1.2))
        picture = task.get("picture")
        pic = None
        if picture and picture.get("kind") == "plane":
            pic = demo_plots.plane(picture, title="P(class 1), test points")
        elif picture:
            pic = demo_plots.curve(picture, title="learned y(x), test points")
        out.append({**task, "loss_plot": demo_plots.chart(
            curves, title="loss per epoch", x_label="epoch", y_label="E summed over the epoch",
            log_y=True, legend_beside=True),
            "diff_plot": demo_plots.chart(
                diffs, title="weights: largest relative difference", x_label="step",
                y_label="max |Δw| / max |w|", log_y=True, legend_beside=True,
                hline=None if task.get("student") else (agree, f"limit {agree:.0e}")),
            "picture_plot": pic})
    return out


def _cost(cost: dict) -> Markup:
    rows = cost["rows"]
    lines = []
    for q, label, colour in (("forward_s", "forward", svg.INK),
                             ("backprop_s", "forward + backward", svg.PALETTE[1]),
                             ("fd_s", "central differences", svg.PALETTE[0])):
        lines.append(demo_plots.Line(label, colour, [(r["params"], r[q]) for r in rows],
                                     dots=True, width=1.8))
    return demo_plots.chart(lines, title="time per gradient", x_label="parameters P",
                            y_label="seconds", log_x=True, log_y=True, legend_beside=True)


def context(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the template shows."""
    details = doc.get("details") or {}
    rows = list(doc.get("output_errors") or [])
    panels = _output_panels(rows, details.get("output_errors") or []) if details else []
    for_key = {p["key"]: p for p in panels}
    return {
        "css": CSS, "doc": doc, "details": details, "verdict": doc.get("verdict", "?"),
        "rows": rows, "panels": panels,
        "canonical": [p for p in panels if p["canonical"]],
        "contrast": [p for p in panels if not p["canonical"] and p.get("targets") != "unnormalised"],
        "subtlety": [p for p in panels if p.get("targets") == "unnormalised"],
        "for_key": for_key,
        "training": _training(details.get("training") or [], num(details.get("agree_rel", 1e-10)))
        if details else [],
        "training_rows": doc.get("training") or [],
        "worked": doc.get("worked_example") or {},
        "yours": doc.get("implementation"),
        "cost_rows": doc.get("cost") or [],
        "cost": details.get("cost"),
        "cost_plot": _cost(details["cost"]) if details.get("cost") else None,
        "network": svg.network([2, 3, 2], ["x", "tanh", "identity"]),
        "cost_claims": doc.get("cost_claims") or [],
        **demo_lessons.context(doc),
    }




def render(doc: Mapping[str, Any]) -> str:
    """The demo report as one self-contained HTML document."""
    return env.render("demo.html", **context(doc))
