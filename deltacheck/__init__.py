"""deltacheck: verify hand-written backpropagation against torch, jax and finite differences.

This module is the public face: everything behind it (``deltacheck.core``, ``judging``,
``diagnosis``, ``results``, ``campaign``, ``audit``, ``demo``, ``commands``) may move between
subpackages, and a test pins exactly the names below. Each name is imported on first use, so
that ``import deltacheck`` (and the command line's first line, which takes Ctrl-C in hand) is
quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deltacheck.audit.api import audit_activation
    from deltacheck.campaign.api import check_backprop
    from deltacheck.campaign.strategies import Architecture, architectures, cases
    from deltacheck.core.activations import Activation
    from deltacheck.core.case import Case
    from deltacheck.core.errors import DeltacheckError
    from deltacheck.demo.api import run_demo
    from deltacheck.diagnosis import check_case
    from deltacheck.judging.check import CaseResult
    from deltacheck.judging.compare import compare
    from deltacheck.layers.api import check_layer
    from deltacheck.layers.custom import Layer
    from deltacheck.models.api import check_model

_STRATEGIES = "deltacheck.campaign.strategies"
_HOMES = {"Activation": "deltacheck.core.activations", "Architecture": _STRATEGIES,
          "Case": "deltacheck.core.case", "CaseResult": "deltacheck.judging.check",
          "DeltacheckError": "deltacheck.core.errors", "architectures": _STRATEGIES,
          "cases": _STRATEGIES, "check_case": "deltacheck.diagnosis",
          "compare": "deltacheck.judging.compare",
          "check_layer": "deltacheck.layers.api", "check_model": "deltacheck.models.api",
          "Layer": "deltacheck.layers.custom",
          "check_backprop": "deltacheck.campaign.api",
          "audit_activation": "deltacheck.audit.api", "run_demo": "deltacheck.demo.api"}

__all__ = [
    "Activation",
    "Architecture",
    "Case",
    "CaseResult",
    "DeltacheckError",
    "Layer",
    "architectures",
    "audit_activation",
    "cases",
    "check_backprop",
    "check_case",
    "check_layer",
    "check_model",
    "compare",
    "run_demo",
]

# Names the next jobs add at the top of the package (one call each from Python); no module or
# subpackage may take them.
RESERVED = ("check_backprop", "check_layer", "check_model", "audit_activation", "run_demo")


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'deltacheck' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
