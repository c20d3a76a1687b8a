"""deltacheck: verify hand-written backpropagation against torch, jax and finite differences.

This module is the public face: everything behind it (``deltacheck.core``, ``judging``,
``diagnosis``, ``results``, ``campaign``, ``audit``, ``demo``, ``commands``) may move between
subpackages, and a test pins exactly the names below.
"""

from deltacheck.campaign.strategies import Architecture, architectures, cases
from deltacheck.core.activations import Activation
from deltacheck.core.case import Case
from deltacheck.core.errors import DeltacheckError
from deltacheck.diagnosis import check_case
from deltacheck.judging.check import CaseResult
from deltacheck.judging.compare import compare
from deltacheck.layers.api import check_layer

__all__ = [
    "Activation",
    "Architecture",
    "Case",
    "CaseResult",
    "DeltacheckError",
    "architectures",
    "cases",
    "check_case",
    "check_layer",
    "compare",
]

# Names the next jobs add at the top of the package (one call each from Python); no module or
# subpackage may take them.
RESERVED = ("check_backprop", "check_layer", "check_model", "audit_activation", "run_demo")
