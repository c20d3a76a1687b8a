"""Render a ``deltacheck-audit/1`` dictionary as one self-contained HTML page.

One section per audited activation: its verdict, the five checks, h plotted, dh over
autograd's h', the error over a on a log scale with the tolerance lines, the kinks, the
finite-range table, the worst points and the network results. Jinja2 autoescapes every
string of the document: activation names, messages and specs come from users.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from deltacheck.reports import audit_plots, env, svg
from deltacheck.reports.common import fmt_err, fmt_val, num

CHECKS = (("derivative", "h′"), ("kinks", "kinks"), ("frameworks", "frameworks"),
          ("finite", "range"), ("networks", "networks"))
ORACLE_COLOURS = {"torch": svg.colour(0), "jax": svg.colour(1), "fd": svg.colour(2)}


def _anchor(name: str, i: int) -> str:
    return f"act-{i}-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


def _interval(iv: Any) -> str:
    if not iv:
        return "not finite at 0"
    return f"[{env.num_text(iv[0])}, {env.num_text(iv[1])}]"  # all the digits: 709.782712893384


def _finite_rows(finite: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for dtype in ("float64", "float32"):
        block = finite.get(dtype) or {}
        for key in ("h", "dh"):
            detail = (block.get("detail") or {}).get(key) or {}
            bad = [f"{b.get('value')} on [{fmt_val(b.get('from'))}, {fmt_val(b.get('to'))}]"
                   for b in detail.get("bad") or []]
            rows.append({"dtype": dtype, "fn": key, "interval": _interval(block.get(key)),
                         "whole": block.get(key) == finite.get("searched"),
                         "bad": "; ".join(bad) or detail.get("message", "") or "none"})
    return rows


def _plots(act: Mapping[str, Any]) -> list[Markup]:
    p = act.get("plot") or {}
    xs = p.get("a") or []
    kinks = [num(k) for k in (act.get("kinks") or {}).get("found", [])] + \
        [num(k) for k in (act.get("kinks") or {}).get("declared", [])]
    if not xs:
        return []
    name = act.get("name", "")
    out = [audit_plots.chart(xs, [audit_plots.Line(f"h = {name}", svg.INK, p.get("h") or [])],
                             title=f"h(a): {name}", kinks=kinks)]
    ref = p.get("autograd_name") or "autograd"
    out.append(audit_plots.chart(xs, [
        audit_plots.Line(f"{ref} h′", "#adb5bd", p.get("autograd") or [], width=4.0),
        audit_plots.Line("dh (hand-written)", svg.BAD, p.get("dh") or [], dashed=True)],
        title="dh over autograd's h′", kinks=kinks))
    lines: list[audit_plots.Line] = []
    by_tol: dict[float, list[str]] = {}
    for oracle, e in (p.get("err") or {}).items():
        colour = ORACLE_COLOURS.get(oracle, svg.INK)
        lines.append(audit_plots.Line(oracle, colour, e.get("err") or []))
        by_tol.setdefault(num(e.get("rtol")), []).append(oracle)
    hlines = [(tol, ORACLE_COLOURS.get(names[0], svg.INK) if len(names) == 1 else svg.INK,
               f"tol {', '.join(names)} {fmt_err(tol)}") for tol, names in by_tol.items()]
    if lines:
        xs_err = next(iter(p["err"].values())).get("a") or []
        out.append(audit_plots.chart(xs_err, lines, log_y=True, hlines=hlines, kinks=kinks,
                                     title="err of dh per oracle (largest in each 0.05 of a)"))
    return out


def _worst_rows(d: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for oracle, o in (d.get("oracles") or {}).items():
        rows.append({"oracle": oracle, "verdict": o.get("verdict", ""), "rtol": o.get("rtol"),
                     "err": o.get("err"), "a": o.get("a"), "judged": o.get("judged"),
                     "not_judged": o.get("not_judged"), "failing": o.get("failing_points"),
                     "message": o.get("message", "")})
    return rows


def _cls(verdict: Any) -> str:
    return {"pass": "ok", "warn": "near", "info": "nj", "not run": "nj"}.get(str(verdict), "bad")


def _section(i: int, act: Mapping[str, Any]) -> dict[str, Any]:
    d = act.get("derivative") or {}
    k = act.get("kinks") or {}
    f = act.get("frameworks") or {}
    n = act.get("networks") or {}
    verdicts = {"derivative": d.get("verdict"), "kinks": k.get("verdict"),
                "frameworks": f.get("verdict"), "finite": "info", "networks": n.get("verdict")}
    return {"anchor": _anchor(str(act.get("name", "")), i), "act": act, "d": d, "k": k, "n": n,
            "verdict": act.get("verdict", ""), "cls": _cls(act.get("verdict")),
            "checks": [{"key": key, "title": title, "verdict": verdicts[key] or "—",
                        "cls": _cls(verdicts[key])} for key, title in CHECKS],
            "frameworks": [{"name": name, **r} for name, r in f.items() if isinstance(r, Mapping)],
            "finite": _finite_rows(act.get("finite") or {}),
            "worst": d.get("worst") or {}, "beyond": d.get("worst_beyond") or [],
            "widened": d.get("widened") or {}, "oracles": _worst_rows(d), "plots": _plots(act)}


def context(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the template shows."""
    acts = [a for a in doc.get("activations") or [] if isinstance(a, Mapping)]
    summary = doc.get("summary") or {}
    return {"css": CSS, "run": doc.get("run") or {}, "summary": summary,
            "verdict_cls": _cls(summary.get("verdict")),
            "sections": [_section(i, a) for i, a in enumerate(acts)],
            "environment": list((doc.get("environment") or {}).items()),
            "tolerances": [t for t in doc.get("tolerances") or [] if t.get("dtype") == "float64"]}


CSS = env.stylesheet("report.css", "audit.css")


def render(doc: Mapping[str, Any]) -> str:
    """The audit report as one self-contained HTML document."""
    return env.render("audit.html", **context(doc))
