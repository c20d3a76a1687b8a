"""Moved: ``activation_objects`` and friends now live in ``deltacheck.judging.check``."""

from deltacheck._shim import forwarder

__getattr__ = forwarder(__name__, "deltacheck.judging.check", warn=True)
