"""Hypothesis strategies for networks and cases (they live in ``deltacheck.campaign.strategies``)
and for layer cases (``layer_cases(kind)``, from ``deltacheck.layers.draws``)."""

from deltacheck._shim import forwarder
from deltacheck.layers.draws import LayerCase, layer_cases

__all__ = ["LayerCase", "layer_cases"]

__getattr__ = forwarder(__name__, "deltacheck.campaign.strategies", warn=False)
