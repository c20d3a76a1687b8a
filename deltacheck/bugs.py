"""Seeded bugs, for ``--impl deltacheck.bugs:NAME`` (they live in ``deltacheck.campaign.bugs``)."""

from deltacheck._shim import forwarder

__getattr__ = forwarder(__name__, "deltacheck.campaign.bugs", warn=False)
