"""Hypothesis strategies for networks and cases (they live in ``deltacheck.campaign.strategies``)."""

from deltacheck._shim import forwarder

__getattr__ = forwarder(__name__, "deltacheck.campaign.strategies", warn=False)
