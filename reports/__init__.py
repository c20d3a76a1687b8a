"""Turn deltacheck results into one self-contained HTML report."""

from reports.html import render, write

__all__ = ["render", "write"]
