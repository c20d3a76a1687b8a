"""The card of one checked case (``check_case``) for a notebook cell: the verdict, the first
disagreement and its diagnosis, and the matrix of quantities against oracles."""

from __future__ import annotations

from typing import Any

from deltacheck.core.card import Card, diagnosis_text
from deltacheck.core.words import plural


def _cell(q: Any) -> str:
    err = q.err
    size = f"{err:.1e}" if isinstance(err, float) and err == err else str(err)
    return f"{size} {q.verdict}"


def card(result: Any) -> Card:
    """A CaseResult's card (``result`` is a deltacheck.judging.check.CaseResult)."""
    case = result.case
    hidden = ", ".join(case.activations) or "no"
    what = (f"network {'–'.join(map(str, case.widths))}, {hidden} hidden, {case.loss}, "
            f"{case.dtype}, {plural(len(case.x), 'sample')}")
    failing = [name for name, r in result.oracles.items() if str(r.verdict) in ("fail", "error")]
    if str(result.verdict) == "pass":
        headline = f"{what}: every oracle agrees"
    elif failing:
        headline = f"{what}: disagrees with {', '.join(failing)}"
    else:
        headline = f"{what}: {result.verdict}"
    names = list(result.oracles)
    rows: list[list[Any]] = [["quantity", *names]]
    labels = [q.label for r in result.oracles.values() for q in r.quantities]
    for label in dict.fromkeys(labels):
        row = [label]
        for name in names:
            q = next((q for q in result.oracles[name].quantities if q.label == label), None)
            row.append(_cell(q) if q is not None else "")
        rows.append(row)
    return Card(title="check_case", verdict=str(result.verdict), headline=headline,
                first=result.first_message(), diagnosis=diagnosis_text(result.diagnosis),
                rows=rows)
