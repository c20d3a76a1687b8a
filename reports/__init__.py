"""Turn deltacheck results into one self-contained HTML report."""

from deltacheck.reports.html import render, write

__all__ = ["render", "write"]
