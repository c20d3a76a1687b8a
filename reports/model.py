"""Render a ``deltacheck-model/1`` document: the layer report's page, one row for the model, and
for its failure the case, the first wrong parameter and where the slip is (layer or
composition)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deltacheck.reports import layer


def render(doc: Mapping[str, Any]) -> str:
    """The report as one HTML document."""
    return layer.render(doc, command="deltacheck model", noun="model")
