"""The one-call results of the Python API (``check_backprop``, ``audit_activation``,
``run_demo``): a document, a verdict, and a card (deltacheck.core.card) that renders in Jupyter
(``_repr_html_``) beside the path of the full report written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deltacheck.core.card import Card, diagnosis_text, render

__all__ = ["Card", "Result", "diagnosis_text", "render"]


@dataclass
class Result:
    """A one-call result: its document, its verdict, its card, and where the full report went."""

    document: dict[str, Any]
    card: Card
    exit_code: int
    report: str | None = None

    @property
    def verdict(self) -> str:
        """pass or fail (or interrupted, not judged)."""
        return self.card.verdict

    @property
    def passed(self) -> bool:
        """True when every check agrees."""
        return self.exit_code == 0

    def __repr__(self) -> str:
        first = f", first={self.card.first!r}" if self.card.first else ""
        return f"{self.card.title}({self.card.verdict}: {self.card.headline!r}{first})"

    def _repr_html_(self) -> str:
        return render(self.card)
