"""Turn deltacheck results into one self-contained HTML report."""

from deltacheck.reports.html import render

__all__ = ["render"]
