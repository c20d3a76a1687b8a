"""``audit_activation`` from Python: ``deltacheck audit`` of one activation as one call, whose
result renders in a notebook as a card beside the full report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deltacheck.audit.runner import DECIDING, AuditConfig, exit_code, run
from deltacheck.core.errors import DeltacheckError
from deltacheck.reports.card import Card, Result
from deltacheck.results import output

CHECKS = {"derivative": "h′ against autograd and finite differences",
          "kinks": "kinks declared and found", "frameworks": "h and h′ under numpy, torch, jax",
          "networks": "whole networks with it"}


def _first(record: dict[str, Any]) -> str:
    """The first failing check's disagreement, in one line."""
    for check in DECIDING:
        r = record[check]
        if r.get("verdict") == "pass":
            continue
        if check == "networks":
            return str(r.get("first_disagreement") or r.get("message") or "")
        if check == "frameworks":
            bad = [f"{name}: {v.get('message')}" for name, v in r.items()
                   if isinstance(v, dict) and v.get("verdict") not in (None, "pass")]
            return "; ".join(bad)
        w = r.get("worst") or {}
        text = r.get("message") or ""
        if w.get("a") is not None:
            text = (f"h′({w['a']:.6g}) = {w.get('dh')}, but {w.get('oracle')} says "
                    f"{w.get(w.get('oracle') or '', '?')} (err {w.get('err')})") + \
                (f"; {text}" if text else "")
        return text
    return ""


def card(doc: dict[str, Any], report: str | None) -> Card:
    """The audit's card: the verdict, the first failing check, every check's verdict."""
    record = doc["activations"][0]
    rows: list[list[Any]] = [["check", "what", "verdict"]]
    rows += [[check, what, str(record[check].get("verdict", "—"))]
             for check, what in CHECKS.items()]
    failing = [c for c in DECIDING if record[c].get("verdict") != "pass"]
    headline = (f"{record['name']}: every check passes" if not failing else
                f"{record['name']}: {', '.join(failing)} {'fails' if len(failing) == 1 else 'fail'}")
    return Card(title="audit_activation", verdict=str(record["verdict"]), headline=headline,
                first=_first(record), report=report or "", rows=rows)


def audit_activation(act: Any, *, oracles: Sequence[str] = ("torch", "jax", "fd"),
                     batches: int = 100, examples: int = 60, seed: int | None = 0,
                     report: str | Path | None = "deltacheck-reports/audit.html") -> Result:
    """Audit an activation (object, built-in name or MODULE:NAME spec) as ``deltacheck audit``."""
    json_path = Path(report).with_suffix(".json") if report is not None else None
    config = AuditConfig(oracles=tuple(oracles), batches=batches, examples=examples, seed=seed,
                         failures_dir=str(json_path.with_name(f"{json_path.stem}-cases"))
                         if json_path else AuditConfig.failures_dir)
    if isinstance(act, str):
        doc = run([act], config)
    else:
        for attr in ("name", "h", "dh"):
            if not hasattr(act, attr):
                raise DeltacheckError(f"audit_activation: {act!r} has no {attr!r}; give an "
                                      f"activation (name, h(a, xp), dh(a, xp)) or a spec string")
        module = getattr(act, "__module__", None) or "__main__"
        doc = run([f"{module}:{act.name}"], config, acts=[act])
    written = None
    if report is not None:
        output.write_outputs(doc, json_path=json_path, report_path=report)
        written = str(report)
    return Result(document=doc, card=card(doc, written), exit_code=exit_code(doc), report=written)
