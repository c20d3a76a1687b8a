"""Reading the records of a results document: where a record first goes wrong, and the one
line that says a diagnosis."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deltacheck.judging.records import first_wrong

OUTPUT_COLUMN = "output"  # where summaries put failures of the loss and the output layer


def first_wrong_of_record(oracle_record: Mapping[str, Any], n_layers: int
                          ) -> tuple[str, int | None] | None:
    """``first_wrong`` from one oracle's JSON record (a case record of the results)."""
    verdicts = {(qd.get("q"), qd.get("layer")): qd.get("verdict")
                for qd in oracle_record.get("quantities") or []}
    return first_wrong(verdicts, n_layers)


def attributed_to(activations: list[str], oracle_record: Mapping[str, Any]) -> str | None:
    """The activation of the layer where a failing record first goes wrong, for the summaries.

    A hidden layer's δ, ∂W or ∂b goes to that layer's activation; the loss and the output
    layer go to ``OUTPUT_COLUMN``; None when no quantity failed (the call raised, say).
    """
    n_layers = len(activations) + 1
    found = first_wrong_of_record(oracle_record, n_layers)
    if found is None:
        return None
    layer = found[1]
    return activations[layer] if layer is not None and layer < n_layers - 1 else OUTPUT_COLUMN


def line_of(diagnosis: Mapping[str, Any] | None) -> str:
    """One line from a diagnosis's JSON: "factor at ∂W[1]: ∂W[1] is 1/N (N = 3) times ..."."""
    if not diagnosis:
        return ""
    return f"{diagnosis.get('kind')} at {diagnosis.get('where')}: {diagnosis.get('detail')}"
