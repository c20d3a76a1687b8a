"""Where a model's slip is: in a layer, or in the composition. The layer functions the model's
module defines or imports (``from .layers import *``) are checked on their own, as
``deltacheck layer`` would; if every one of the kinds the composition uses passes, the slip is
in the composition."""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from typing import Any

from deltacheck.core.words import plural
from deltacheck.layers.discovery import LayerSpec, find_layers
from deltacheck.layers.runner import Settings, check_layer_spec
from deltacheck.models.compose import WEIGHTED

_SEEN: dict[tuple[Any, ...], dict[str, Any]] = {}  # one layer check per function and settings


def layer_specs(cls: Any, kinds: Sequence[str]) -> list[LayerSpec]:
    """The pairs and losses visible from the model's module whose kind the composition uses."""
    module = sys.modules.get(getattr(cls, "__module__", ""))
    if module is None:
        return []
    groups: dict[str, types.ModuleType] = {}
    for name, value in vars(module).items():
        home = getattr(value, "__module__", None)
        if isinstance(value, types.FunctionType) and isinstance(home, str):
            group = groups.setdefault(home, types.ModuleType(home))
            setattr(group, name, value)
    wanted = set(kinds)
    specs = []
    for group in groups.values():
        found, _ = find_layers(group)
        specs += [s for s in found if s.kind in wanted or (s.kind == "affine" and
                                                           wanted & set(WEIGHTED))]
    return specs


def attribute(cls: Any, kinds: Sequence[str], config: Settings) -> dict[str, Any]:
    """``{"where": layer | composition | unknown, "text": …, "layers": {name: verdict}}``."""
    specs = layer_specs(cls, kinds)
    if not specs:
        return {"where": "unknown", "layers": {},
                "text": "the model's module defines or imports no layer functions that "
                        "deltacheck layer can check, so a slip in a layer cannot be told "
                        "from one in the composition"}
    verdicts: dict[str, str] = {}
    failing = []
    for spec in specs:
        key = (spec.forward, spec.backward, spec.kind, config.examples, config.seed,
               tuple(config.oracles))
        if key not in _SEEN:
            _SEEN[key] = check_layer_spec(spec, config)
        record = _SEEN[key]
        verdicts[spec.name] = record["verdict"]
        if record["failures"]:
            f = record["failures"][-1]
            failing.append(f"{spec.name} ({f['gradient'] or f['stage']}: {f['message']})")
    if failing:
        return {"where": "layer", "layers": verdicts,
                "text": f"the slip is in a layer: {failing[0]} fails deltacheck layer on its "
                        "own"}
    return {"where": "composition", "layers": verdicts,
            "text": f"every layer the model uses passes deltacheck layer on its own "
                    f"({', '.join(verdicts)}, {plural(config.examples, 'case')} each): the slip is in "
                    "the composition"}
