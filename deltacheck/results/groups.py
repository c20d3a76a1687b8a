"""Every failure of a run in a few groups: by diagnosis kind and first wrong quantity, the
implementation's crashes by exception, largest group first.

"296 activation_derivative at δ (hidden, sigmoid); 66 loss_value only (gradients agree)" says
more than any single failing case: the console's last line, the HTML banner, JUnit and the
JSON summary (``summary.groups``) all read it from here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from deltacheck.core.verdicts import ERROR, FAIL
from deltacheck.judging.check import about_implementation

LABEL_CHARS = 70  # an exception's message is cut here ("…"): a group label stays one line
SHOWN = 4  # groups named on the console's last line; the rest are counted


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1].rstrip() + "…"


def _key(rec: Mapping[str, Any]) -> tuple[str, str, str]:
    """(kind, where, label) of one failing case record."""
    problem = str(rec.get("problem") or "")
    if rec.get("timed_out") is not None:
        return "timed_out", "", f"timed out after {rec['timed_out']:g} s"
    if problem.startswith("raised "):
        return "raised", "", _cut(problem)
    diagnosis = rec.get("diagnosis") or {}
    kind = diagnosis.get("kind")
    if kind == "loss_value":
        return kind, "E", "loss_value only (gradients agree)"
    if kind:
        # one group over layers: δ[1] and δ[2] of the same role and activation go together
        where = re.sub(r"\[\d+\]", "", str(diagnosis.get("where") or "no quantity"))
        return kind, where, f"{kind} at {where}"
    if problem:
        return "problem", "", _cut(about_implementation(problem))
    if rec.get("verdict") == ERROR:
        return "oracle_error", "", _cut(str(rec.get("message") or "an oracle could not judge"))
    return "unknown", "", _cut(str(rec.get("message") or "disagreement"))


def failure_groups(cases: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The failing cases grouped, largest group first (then by first case)."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for rec in cases:
        if rec.get("verdict") not in (FAIL, ERROR):
            continue
        kind, where, label = _key(rec)
        group = found.setdefault((kind, where, label), {
            "kind": kind, "where": where, "label": label, "cases": 0, "first_case": rec["id"]})
        group["cases"] += 1
    return sorted(found.values(), key=lambda g: (-g["cases"], g["first_case"]))


def groups_text(groups: Sequence[Mapping[str, Any]], *, shown: int = SHOWN) -> str:
    """``296 activation_derivative at δ (hidden, sigmoid); 66 loss_value only (…)``."""
    parts = [f"{g['cases']} {g['label']}" for g in groups[:shown]]
    rest = groups[shown:]
    if rest:
        n = sum(g["cases"] for g in rest)
        parts.append(f"{n} more in {len(rest)} other group{'s' if len(rest) > 1 else ''}")
    return "; ".join(parts)
