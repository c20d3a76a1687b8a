"""The layer selftest: every seeded layer slip (``SLIPS`` of a slips module, by default
examples/layers/slips.py) goes through the campaign, and each must be caught. A slip with a
``function`` (examples/functions/slips.py) is a custom-backward function, checked as
``--as function`` checks it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deltacheck.core.errors import DeltacheckError
from deltacheck.core.loading import load_module
from deltacheck.core.words import plural
from deltacheck.layers.discovery import LayerSpec, function_layer
from deltacheck.layers.runner import Settings, check_layer_spec

DEFAULT_SLIPS = "examples/layers/slips.py"
FUNCTION_SLIPS = "examples/functions/slips.py"


def load_slips(path: str = DEFAULT_SLIPS, argument: str = "--layers") -> dict[str, Any]:
    """``SLIPS`` of the module at ``path``: name -> (kind, forward, backward, description), or
    name -> (function, description)."""
    slips = getattr(load_module(path, argument=argument), "SLIPS", None)
    if not isinstance(slips, dict) or not slips:
        raise DeltacheckError(f"{argument} {path!r} has no SLIPS dict of seeded slips")
    return slips


def run(slips: dict[str, Any], config: Settings,
        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The kill table: per slip, caught or missed, after how many cases, and the cause found."""
    rows = []
    for name, slip in slips.items():
        if hasattr(slip, "function"):  # a custom-backward function (--functions)
            spec = function_layer(slip.function, argument=f"slip {name!r}")
        else:
            spec = LayerSpec(slip.kind, slip.forward, slip.backward, name,
                             "" if slip.backward is None else f"{name}_backward")
        record = check_layer_spec(spec, config)
        failure = record["failures"][-1] if record["failures"] else None
        row = {"slip": name, "kind": spec.kind, "description": slip.description,
               "caught": failure is not None, "cases": record["cases"],
               "cause": failure["diagnosis"]["cause"] if failure else "",
               "gradient": failure["gradient"] if failure else ""}
        rows.append(row)
        if progress:
            progress(f"  {name}: {'caught' if row['caught'] else 'MISSED'} after "
                     f"{plural(row['cases'], 'case')} ({row['gradient']}: {row['cause']})")
    caught = sum(r["caught"] for r in rows)
    return {"schema": "deltacheck-layer-selftest/1", "slips": rows,
            "summary": {"verdict": "pass" if caught == len(rows) else "fail",
                        "caught": caught, "slips": len(rows)}}


def table(doc: dict[str, Any]) -> list[str]:
    """One line per slip and the kill rate."""
    lines = [f"{'slip':<44} {'kind':<18} {'cases':>5}  result"]
    for r in doc["slips"]:
        lines.append(f"{r['slip']:<44} {r['kind']:<18} {r['cases']:>5}  "
                     + (f"caught ({r['gradient']}: {r['cause']})" if r["caught"] else "MISSED"))
    s = doc["summary"]
    lines.append(f"layer slips caught: {s['caught']} of {s['slips']}")
    return lines
