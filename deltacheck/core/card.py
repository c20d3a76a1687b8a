"""A compact card for a notebook cell: the verdict, the first disagreement and its diagnosis, a
small table, and the path of the full report written beside the notebook.

Every one-call result renders as one of these in Jupyter (``_repr_html_``): a case checked by
``check_case``, and the results of ``check_backprop``, ``audit_activation`` and ``run_demo``
(deltacheck.reports.card). One self-contained fragment: inline styles, no script, no link;
every value is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def escape(value: Any) -> str:
    """Any value as HTML text (the standard library's escaping: no dependency)."""
    return html.escape(str(value), quote=True)


OK, BAD, DIM = "#2b8a3e", "#c92a2a", "#6c757d"


@dataclass(frozen=True)
class Card:
    """What a card shows; ``rows`` is a small table (first row the header)."""

    title: str
    verdict: str
    headline: str
    first: str = ""
    diagnosis: str = ""
    report: str = ""
    rows: Sequence[Sequence[Any]] = field(default_factory=tuple)
    notes: Sequence[str] = field(default_factory=tuple)


def _table(rows: Sequence[Sequence[Any]]) -> str:
    if not rows:
        return ""
    head, *body = rows
    cell = "padding:2px 8px;border-bottom:1px solid #dee2e6;text-align:left"
    ths = "".join(f'<th style="{cell}">{escape(h)}</th>' for h in head)
    out = [f'<table style="border-collapse:collapse;margin:6px 0;font-size:90%">'
           f"<thead><tr>{ths}</tr></thead><tbody>"]
    for row in body:
        tds = []
        for v in row:
            word = str(v).rsplit(" ", 1)[-1]  # "pass", or "1.2e-15 pass" in a matrix cell
            colour = OK if word == "pass" else BAD if word in ("fail", "error") else "inherit"
            tds.append(f'<td style="{cell};color:{colour}">{escape(v)}</td>')
        out.append(f"<tr>{''.join(tds)}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render(card: Card) -> str:
    """The card as an HTML fragment."""
    ok = card.verdict == "pass"
    colour = OK if ok else BAD
    parts = [f'<div class="deltacheck-card" style="border:1px solid {colour};border-left:6px '
             f'solid {colour};border-radius:4px;padding:8px 12px;margin:4px 0;'
             f'font-family:system-ui,sans-serif;font-size:14px;line-height:1.45">',
             f'<div><b>{escape(card.title)}</b> <span style="color:{colour};font-weight:bold">'
             f'{escape(card.verdict.upper())}</span></div>',
             f"<div>{escape(card.headline)}</div>"]
    if card.first:
        parts.append(f'<div style="margin-top:4px"><b>First disagreement:</b> '
                     f"<code>{escape(card.first)}</code></div>")
    if card.diagnosis:
        parts.append(f"<div><b>Diagnosis:</b> {escape(card.diagnosis)}</div>")
    parts.append(_table(card.rows))
    for note in card.notes:
        parts.append(f'<div style="color:{DIM}">{escape(note)}</div>')
    if card.report:
        parts.append(f'<div style="color:{DIM}">Full report: <code>{escape(card.report)}</code>'
                     f"</div>")
    parts.append("</div>")
    return "".join(parts)


def diagnosis_text(diagnosis: Mapping[str, Any] | None) -> str:
    """The diagnosis of a failure in one line (its detail, and where when it says more)."""
    if not diagnosis:
        return ""
    detail = str(diagnosis.get("detail") or diagnosis.get("kind") or "")
    where = diagnosis.get("where")
    return f"{detail} ({where})" if where and str(where) not in detail else detail
