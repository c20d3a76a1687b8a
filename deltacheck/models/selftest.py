"""The model selftest: every seeded composition slip (``SLIPS`` of a slips module, by default
examples/models/slips.py) goes through the model campaign; each must be caught and attributed
to the composition."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deltacheck.core.errors import DeltacheckError
from deltacheck.core.loading import load_module
from deltacheck.core.words import plural
from deltacheck.models.runner import Settings, check_model_class

DEFAULT_SLIPS = "examples/models/slips.py"


def load_slips(path: str = DEFAULT_SLIPS) -> dict[str, Any]:
    """``SLIPS`` of the module at ``path``: name -> (model, description)."""
    slips = getattr(load_module(path, argument="--models"), "SLIPS", None)
    if not isinstance(slips, dict) or not slips:
        raise DeltacheckError(f"--models {path!r} has no SLIPS dict of seeded slips")
    return slips


def run(slips: dict[str, Any], config: Settings,
        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The kill table: per slip, caught or missed, after how many cases, and where."""
    rows = []
    for name, slip in slips.items():
        record = check_model_class(slip.model, config, name)
        failure = record["failures"][-1] if record["failures"] else None
        cause = failure["diagnosis"]["cause"] if failure else ""
        row = {"slip": name, "description": slip.description, "caught": failure is not None,
               "attributed": cause == "composition", "cases": record["cases"], "cause": cause,
               "gradient": (failure["gradient"] or failure["stage"]) if failure else ""}
        rows.append(row)
        if progress:
            progress(f"  {name}: {'caught' if row['caught'] else 'MISSED'} after "
                     f"{plural(row['cases'], 'case')} ({row['gradient']}: {cause})")
    caught = sum(r["caught"] and r["attributed"] for r in rows)
    return {"schema": "deltacheck-model-selftest/1", "slips": rows,
            "summary": {"verdict": "pass" if caught == len(rows) else "fail",
                        "caught": caught, "slips": len(rows)}}


def table(doc: dict[str, Any]) -> list[str]:
    """One line per slip and the kill rate."""
    lines = [f"{'slip':<38} {'cases':>5}  result"]
    for r in doc["slips"]:
        result = f"caught ({r['gradient']}: {r['cause']})" if r["caught"] else "MISSED"
        lines.append(f"{r['slip']:<38} {r['cases']:>5}  {result}")
    s = doc["summary"]
    lines.append(f"model slips caught and attributed to the composition: {s['caught']} of "
                 f"{s['slips']}")
    return lines
