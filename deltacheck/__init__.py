"""deltacheck: verify hand-written backpropagation against torch, jax and finite differences."""

from deltacheck.activations import Activation
from deltacheck.case import Case
from deltacheck.check import CaseResult, check_case
from deltacheck.compare import compare
from deltacheck.errors import DeltacheckError
from deltacheck.strategies import Architecture, architectures, cases

__all__ = [
    "Activation",
    "Architecture",
    "Case",
    "CaseResult",
    "DeltacheckError",
    "architectures",
    "cases",
    "check_case",
    "compare",
]
