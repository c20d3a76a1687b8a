"""Moved: the output-error measurements now live in ``deltacheck.demo.output_errors``."""

from deltacheck._shim import forwarder

__getattr__ = forwarder(__name__, "deltacheck.demo.output_errors", warn=True)
