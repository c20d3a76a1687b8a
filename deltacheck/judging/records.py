"""What judging one case gives: per oracle, per quantity, errors and verdicts, and their compact,
strict JSON form (non-finite numbers as strings, never NaN literals)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltacheck.core.numbers import json_number
from deltacheck.core.verdicts import ERROR, FAIL, NOT_JUDGED, PASS, Verdict

SYMBOL = {"loss": "E", "deltas": "δ", "grad_weights": "∂W", "grad_biases": "∂b"}


@dataclass
class QuantityResult:
    """The errors of one quantity (the loss, or δ, ∂W or ∂b of one layer) against one oracle."""

    quantity: str
    layer: int | None
    verdict: Verdict
    err: float = 0.0
    max_abs: float = 0.0
    max_rel: float = 0.0
    norm_rel: float = 0.0
    worst: tuple[int, ...] | None = None
    impl_value: float | None = None
    oracle_value: float | None = None
    judged: int = 0
    not_judged: int = 0  # on or near a kink
    unresolved: int = 0  # judged, but only to the oracle's own error bar (wider than rtol)
    message: str = ""
    allowed: np.ndarray | None = None  # per entry: rtol s + u + floor (kept for failures)

    @property
    def label(self) -> str:
        """E, δ[l], ∂W[l] or ∂b[l], indexed as the protocol's lists are."""
        return "E" if self.layer is None else f"{SYMBOL[self.quantity]}[{self.layer}]"

    @property
    def allowed_at_worst(self) -> float | None:
        """The difference the rule allowed at the worst entry (None when nothing was judged)."""
        if self.allowed is None or self.worst is None:
            return None
        return float(np.asarray(self.allowed)[self.worst])

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, with non-finite numbers as strings."""
        return quantity_json(self)


@dataclass
class OracleResult:
    """Every quantity of one case against one oracle."""

    oracle: str
    rtol: float
    verdict: Verdict
    quantities: list[QuantityResult] = field(default_factory=list)
    message: str = ""

    @property
    def err(self) -> float:
        """The worst judged error over all quantities (inf when something failed outright)."""
        errs = [q.err for q in self.quantities if q.verdict != NOT_JUDGED]
        if self.verdict in (FAIL, ERROR) and not any(
                q.verdict in (FAIL, ERROR) for q in self.quantities):
            # raised, wrong shapes, modified inputs, an oracle that broke: never "err 0 ... fail"
            return float("inf")
        return max(errs, default=0.0)

    @property
    def not_judged(self) -> int:
        """How many entries this oracle could not judge."""
        return sum(q.not_judged for q in self.quantities)

    def first_failure(self) -> QuantityResult | None:
        """The failing quantity with the largest error."""
        failed = [q for q in self.quantities if q.verdict in (FAIL, ERROR)]
        return max(failed, key=lambda q: q.err if np.isfinite(q.err) else np.inf, default=None)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return oracle_json(self)


def quantity_json(q: QuantityResult) -> dict[str, Any]:
    """One quantity's record: errors, counts, and where it went wrong (failures only)."""
    out: dict[str, Any] = {"q": q.quantity, "layer": q.layer, "verdict": str(q.verdict),
                           "err": json_number(q.err), "abs": json_number(q.max_abs),
                           "rel": json_number(q.max_rel), "norm": json_number(q.norm_rel),
                           "judged": q.judged, "not_judged": q.not_judged,
                           "unresolved": q.unresolved}
    if q.worst is not None and q.verdict != PASS:  # passing ones stay compact
        out["worst"] = list(q.worst)
        out["impl_value"] = json_number(q.impl_value)
        out["oracle_value"] = json_number(q.oracle_value)
    if q.message:
        out["message"] = q.message
    return out


def oracle_json(r: OracleResult) -> dict[str, Any]:
    """One oracle's record of a case."""
    out: dict[str, Any] = {"verdict": str(r.verdict), "rtol": r.rtol, "err": json_number(r.err),
                           "not_judged": r.not_judged,
                           "quantities": [quantity_json(q) for q in r.quantities]}
    if r.message:
        out["message"] = r.message
    return out


def walk_order(n_layers: int) -> list[tuple[str, int | None]]:
    """(quantity, layer) in the order the error flows: E, δ top down, then ∂W, ∂b top down."""
    order: list[tuple[str, int | None]] = [("loss", None)]
    order += [("deltas", l) for l in reversed(range(n_layers))]
    for l in reversed(range(n_layers)):
        order += [("grad_weights", l), ("grad_biases", l)]
    return order



def first_wrong(verdicts: Mapping[tuple[str, int | None], str], n_layers: int
                ) -> tuple[str, int | None] | None:
    """The first failing (name, layer) of the walk; names as in ``Diagnosis.q``."""
    for q, l in walk_order(n_layers):
        if verdicts.get((q, l)) == FAIL:
            if q == "deltas":
                return ("output_delta" if l == n_layers - 1 else "hidden_delta"), l
            return q, l
    return None
