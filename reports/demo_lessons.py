"""The plots of the demo report's lessons: depth, slow learning, the V of finite differences, and
memory. Each takes its lesson's section of a ``deltacheck-demo/2`` document; a section that is
missing (``--skip-lessons``) gives no plot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from deltacheck.reports import demo_plots, svg
from deltacheck.reports.demo_plots import Line

ACTIVATION_COLOUR = {"sigmoid": svg.PALETTE[0], "tanh": svg.PALETTE[1], "relu": svg.INK}


def depth(doc: Mapping[str, Any]) -> list[Markup]:
    """‖δ‖ per layer, relative to the last hidden layer's: one chart per gain."""
    out = []
    for gain in sorted({s["gain"] for s in doc["settings"]}):
        lines = [Line(f"{s['activation']} (median)", ACTIVATION_COLOUR.get(s["activation"],
                                                                           svg.MUTED),
                      list(enumerate(s["median_rel_norm"], 1)), width=2.6, dots=True)
                 for s in doc["settings"] if s["gain"] == gain]
        out.append(demo_plots.chart(
            lines, title=f"‖δ‖ per layer at initialisation, gain {gain:g}",
            x_label="hidden layer (1 = next to the input)",
            y_label="‖δ‖ ÷ ‖δ‖ of the last hidden layer", log_y=True, legend_beside=True))
    return out


def slow(doc: Mapping[str, Any]) -> Markup:
    """Mean |y − t| per epoch for both pairs, from the same start."""
    colours = {"BCE + sigmoid": svg.PALETTE[1], "MSE + sigmoid": svg.PALETTE[0]}
    lines = [Line(name, colours.get(name, svg.INK), list(enumerate(p["mean_error"])), width=2.6)
             for name, p in doc["pairs"].items()]
    return demo_plots.chart(lines, title="learning from saturated outputs", x_label="epoch",
                            y_label="mean |y − t| on the training set", legend_beside=True,
                            hline=(doc["target_error"], f"learnt: {doc['target_error']:g}"))


def fd_step(doc: Mapping[str, Any]) -> Markup:
    """The V: median relative error of a central difference against the step h."""
    pts = [(h, e) for h, e in zip(doc["steps"], doc["errors"], strict=True) if e > 0]
    return demo_plots.chart(
        [Line("central difference", svg.PALETTE[0], pts, width=2.4, dots=True)],
        title="error of a central difference against its step", x_label="step h",
        y_label="relative error (median)", log_x=True, log_y=True, legend_beside=True,
        vlines=[(doc["eps_cbrt"], "ε^(1/3)", svg.INK),
                (doc["best_step"], "best", svg.PALETTE[1])])


def memory(doc: Mapping[str, Any]) -> Markup:
    """Peak memory of one backprop call and of one finite-difference forward, against depth."""
    rows = doc["rows"]
    lines = [Line("backprop, peak", svg.PALETTE[0],
                  [(r["depth"], r["backprop_peak_bytes"] / 1e6) for r in rows], width=2.6,
                  dots=True),
             Line("every a and z", svg.MUTED,
                  [(r["depth"], r["stored_a_z_bytes"] / 1e6) for r in rows], width=1.8,
                  dash="6 4", dots=True),
             Line("finite difference, peak", svg.PALETTE[1],
                  [(r["depth"], r["fd_peak_bytes"] / 1e6) for r in rows], width=2.6, dots=True)]
    return demo_plots.chart(lines, title="memory of one gradient pass", x_label="hidden layers",
                            y_label="megabytes", legend_beside=True)


def context(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The lessons' sections and plots, for those the document holds."""
    def has(name: str) -> bool:
        return isinstance(doc.get(name), Mapping)

    return {
        "paths": doc.get("chain_rule_paths"),
        "depth": doc.get("depth") if has("depth") else None,
        "depth_plots": depth(doc["depth"]) if has("depth") else [],
        "slow": doc.get("slow_learning") if has("slow_learning") else None,
        "slow_plot": slow(doc["slow_learning"]) if has("slow_learning") else None,
        "fd_step": doc.get("fd_step") if has("fd_step") else None,
        "fd_step_plot": fd_step(doc["fd_step"]) if has("fd_step") else None,
        "memory": doc.get("memory") if has("memory") else None,
        "memory_plot": memory(doc["memory"]) if has("memory") else None,
        "links": doc.get("canonical_links") if has("canonical_links") else None,
        "lessons_run": bool(doc.get("lessons_run", False)),
    }
