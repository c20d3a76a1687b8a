"""Render a ``deltacheck-layer/1`` document as one self-contained HTML page: a row per layer,
and for each failure its minimal shapes, the first wrong gradient, the diagnosis and the user's,
torch's, jax's and fd's values side by side. The template comes from the report's one jinja2
environment (``deltacheck.reports.env``); every string of the document is autoescaped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deltacheck.reports import env
from deltacheck.reports.common import fmt_err, fmt_val, grade, num
from deltacheck.reports.html import CSS

ORACLES = ("torch", "jax", "fd")


def _rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for r in doc["layers"]:
        errs = [num(e) for e in (r.get("worst_err") or {}).values()]
        failures = []
        for f in r["failures"]:
            values = f.get("values") or {}
            columns = [("you", values.get("user") or [])] + \
                [(o, values[o]) for o in ORACLES if o in values]
            depth = max((len(v) for _, v in columns), default=0)
            failures.append({**f, "side": values, "columns": [c for c, _ in columns],
                             "table": [[fmt_val(v[i]) if i < len(v) else "" for _, v in columns]
                                       for i in range(depth)]})
        rows.append({**r, "cls": "ok" if r["verdict"] == "pass" else grade(1, 0, r["verdict"]),
                     "err": fmt_err(max(errs, default=0.0)), "shown_failures": failures})
    return rows


def render(doc: Mapping[str, Any], command: str = "deltacheck layer", noun: str = "layer") -> str:
    """The report as one HTML document (``command`` names the run, ``noun`` what it checked)."""
    return env.render("layer.html", command=command, noun=noun,
        css=CSS, run=doc["run"], summary=doc["summary"], rows=_rows(doc),
        unplaced=doc.get("unplaced") or [], tolerances=doc["tolerances"])
