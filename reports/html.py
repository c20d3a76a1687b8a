"""Render a ``deltacheck-results/1`` dictionary as one self-contained HTML page.

The page carries its own CSS and inline SVG and points at nothing outside itself, so CI can
archive it and anyone can open it offline. Jinja2 autoescapes every string of the results:
implementation names, activation names, messages and tracebacks come from users.

Sections, in order: verdict, the worst-error matrix, failures, environment, tolerances, error
by depth, the error distribution, not judged, passing cases. The tolerance text is rendered from
``deltacheck.tolerances``, the one source of the rule's constants. ``reports.failures`` builds the
failures, ``reports.summaries`` the tables over all cases, ``reports.plots`` the charts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deltacheck.core import tolerances
from deltacheck.core.verdicts import UNRESOLVED_WORD
from deltacheck.reports import env, failures, plots, summaries, svg
from deltacheck.reports.common import NO_HIDDEN, arch, ordered


def _tolerances(results: Mapping[str, Any], oracles: list[str], dtype: Any,
                coarse: Mapping[str, int]) -> list[dict[str, Any]]:
    """The tolerance table; rows of other dtypes or oracles are marked unused."""
    rows = []
    for t in results.get("tolerances") or []:
        used = t.get("dtype") == dtype and t.get("oracle") in oracles
        rows.append(dict(t, used=used, unresolved=coarse.get(t.get("oracle"), 0) if used else 0))
    return rows


def _rule() -> dict[str, Any]:
    """The comparison rule as deltacheck.tolerances states it."""
    return {"rule": tolerances.RULE, "err": tolerances.ERR, "symbols": tolerances.SYMBOLS,
            "terms": tolerances.TERMS, "unresolved": UNRESOLVED_WORD,
            "constants": [(n, f"{v:.3g}", t) for n, v, t in tolerances.CONSTANTS]}


def context(results: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the template shows, derived from the results dictionary."""
    run = dict(results.get("run") or {})
    summary = results.get("summary") or {}
    cases = [c for c in results.get("cases") or [] if isinstance(c, Mapping)]
    records = [f for f in results.get("failures") or [] if isinstance(f, Mapping)]
    oracles = ordered(run.get("oracles"), (o for c in cases for o in c.get("oracles") or {}),
                      (o for f in records for o in f.get("oracles") or {}))
    losses = ordered(run.get("losses"), (arch(c)["loss"] for c in cases))
    acts = [*ordered(run.get("activations"), (a for c in cases for a in arch(c)["activations"])),
            NO_HIDDEN]
    colours = {o: svg.colour(i) for i, o in enumerate(oracles)}
    dtype = run.get("dtype") or (results.get("environment") or {}).get("dtype")
    shown = failures.section(records, cases, oracles)
    coarse = summaries.unresolved_by_oracle(summary, cases, oracles)
    return {"css": CSS, "schema": results.get("schema", ""), "run": run, "oracles": oracles,
            "colours": colours, "acts": acts,
            "verdict": summaries.verdict(summary, cases, records, oracles, shown["full"]),
            "failures": shown, "declared": summaries.declared(run),
            "environment": list((results.get("environment") or {}).items()),
            "tolerances": _tolerances(results, oracles, dtype, coarse), "rule": _rule(),
            "matrix_acts": summaries.matrix_columns(cases, acts),
            "matrix": summaries.matrix(cases, losses, summaries.matrix_columns(cases, acts),
                                       oracles),
            "depth": plots.depth(cases, oracles, colours),
            "histograms": plots.histograms(cases, oracles, colours),
            "not_judged": summaries.not_judged(summary, cases, oracles, acts),
            "passing": summaries.passing(cases, losses, summary),
            "warnings": [w for w in summary.get("warnings") or [] if isinstance(w, Mapping)]}


CSS = env.stylesheet("report.css")


def render(results: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML document."""
    return env.render("report.html", **context(results))
