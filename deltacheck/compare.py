"""Compare an implementation's loss, δ, ∂W and ∂b with one oracle's, quantity by quantity.

Every verdict is written so that it can fail: NaN or inf never passes, a missing key or a
wrong shape is a failure with a message, and an entry is passed only by an explicit
``err <= rtol`` on finite numbers. Entries an oracle cannot judge (kinks) are counted apart.
Reading the implementation's return value is ``deltacheck.protocol``'s job, the JSON form
``deltacheck.jsonable``'s, and every constant of the rule sits in ``deltacheck.tolerances``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltacheck import activations as registry
from deltacheck import jsonable, rounding, tolerances
from deltacheck.case import Case
from deltacheck.jsonable import json_number
from deltacheck.oracles.base import QUANTITIES, Gradients
from deltacheck.protocol import normalise
from deltacheck.verdicts import ERROR, FAIL, NOT_JUDGED, PASS, Verdict, worst

__all__ = ["ERROR", "FAIL", "NOT_JUDGED", "PASS", "SYMBOL", "OracleResult", "QuantityResult",
           "Verdict", "compare", "compare_entries", "describe", "json_number", "normalise",
           "verdict_of"]

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
        return jsonable.quantity_json(self)


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
        return jsonable.oracle_json(self)


def compare_entries(x: np.ndarray, y: np.ndarray, *, unjudged: np.ndarray | None,
                    uncertainty: np.ndarray | float, rtol: float, floor: np.ndarray | float,
                    quantity: str, layer: int | None) -> QuantityResult:
    """Judge one quantity: |x − y| ≤ rtol s + u + floor on every judged entry, s = max |y|."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    unjudged = np.zeros(y.shape, dtype=bool) if unjudged is None else unjudged
    s = float(np.abs(y[np.isfinite(y)]).max(initial=0.0))
    judged = ~unjudged
    # Where the oracle's own error bar is wider than the tolerance, the entry is still judged
    # (a gross error fails), but only to the bar: counted apart so that it is never hidden.
    unresolved = judged & (uncertainty > rtol * s + floor)
    result = QuantityResult(quantity=quantity, layer=layer, verdict=PASS,
                            judged=int(judged.sum()), not_judged=int(unjudged.sum()),
                            unresolved=int(unresolved.sum()))
    result.allowed = rtol * s + uncertainty + floor + np.zeros(y.shape)
    finite = np.isfinite(x) & np.isfinite(y)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        diff = np.abs(x - y)
        err = diff / (s + (uncertainty + floor) / rtol)
        rel = diff / np.abs(y)
    err = np.where(diff == 0, 0.0, err)
    rel = np.where(diff == 0, 0.0, rel)
    err = np.where(finite, err, np.inf)
    rel = np.where(finite, rel, np.inf)
    # NaN or inf in the implementation's output fails wherever it sits, judged or not.
    scope = judged | ~np.isfinite(x)
    if not scope.any():
        result.verdict = NOT_JUDGED
        return result
    masked = np.where(scope, err, -1.0)
    at = np.unravel_index(int(np.argmax(masked)), y.shape) if y.ndim else ()
    result.err = float(masked[at])
    result.max_abs = float(np.where(scope, np.where(finite, diff, np.inf), 0.0).max())
    result.max_rel = float(np.where(scope, rel, 0.0).max())
    dy = float(np.linalg.norm(np.where(scope & finite, y, 0.0)))
    dd = float(np.linalg.norm(np.where(scope, np.where(finite, diff, np.inf), 0.0)))
    result.norm_rel = 0.0 if dd == 0 else (dd / dy if dy > 0 else float("inf"))
    result.worst = tuple(int(i) for i in at)
    result.impl_value, result.oracle_value = float(x[at]), float(y[at])
    if not np.isfinite(y[at]) and np.isfinite(x[at]):
        result.verdict = ERROR
    elif not (result.err <= rtol):  # written this way round so that NaN fails
        result.verdict = FAIL
    return result


def compare(case: Case, impl: Gradients, oracle: Gradients, *, oracle_name: str,
            floors: dict[str, Any] | None = None) -> OracleResult:
    """Compare every quantity of the implementation with one oracle's."""
    tol = tolerances.lookup(oracle_name, case.dtype)
    if floors is None:
        floors = rounding.floors(case, [registry.get(name) for name in case.activations], oracle)
    out = OracleResult(oracle=oracle_name, rtol=tol.rtol, verdict=PASS)
    out.quantities.append(compare_entries(
        np.array(impl.loss), np.array(oracle.loss), unjudged=None,
        uncertainty=oracle.loss_uncertainty, rtol=tol.rtol, floor=floors["loss"],
        quantity="loss", layer=None))
    for key in QUANTITIES:
        for l in range(case.n_layers):
            out.quantities.append(compare_entries(
                impl.quantity(key)[l], oracle.quantity(key)[l],
                unjudged=oracle.unjudged.get(key, [None] * case.n_layers)[l],
                uncertainty=oracle.uncertainty.get(key, [0.0] * case.n_layers)[l],
                rtol=tol.rtol, floor=floors[key][l], quantity=key, layer=l))
    for q in out.quantities:
        if q.verdict in (FAIL, ERROR):
            q.message = describe(q, case, oracle_name)
    out.verdict = verdict_of([q.verdict for q in out.quantities])
    return out


def verdict_of(verdicts: list[str]) -> Verdict:
    """Fail beats error beats pass beats not judged."""
    return worst(verdicts)


def distinct(x: float, y: float, *, least: int = 4) -> tuple[str, str]:
    """x and y with as many significant digits as it takes to tell them apart (at least ``least``)."""
    for digits in range(least, 18):
        a, b = f"{x:.{digits}g}", f"{y:.{digits}g}"
        if a != b:
            return a, b
    return repr(float(x)), repr(float(y))


def describe(q: QuantityResult, case: Case, oracle_name: str) -> str:
    """One line: what the implementation gave, what the oracle says, by how much, and the context."""
    where = q.label if not q.worst else f"{q.label}[{', '.join(map(str, q.worst))}]"
    acts = ", ".join(case.activations) or "no hidden layer"
    context = f"{acts}, {case.loss}, {case.dtype}"
    if q.verdict == ERROR:
        return (f"{where}: the {oracle_name} oracle gave {q.oracle_value}, so it cannot judge "
                f"({context})")
    got, want = distinct(q.impl_value, q.oracle_value)
    if not np.isfinite(q.oracle_value):
        return (f"{where} = {got}, and {oracle_name} gives {want} too: a non-finite value "
                f"never passes ({context})")
    if not np.isfinite(q.impl_value):
        return f"{where} = {got}, but {oracle_name} says {want} (a non-finite value; {context})"
    allowed = q.allowed_at_worst
    bound = f" > allowed {allowed:.2g}" if allowed is not None else ""
    return (f"{where} = {got}, but {oracle_name} says {want} (|diff| "
            f"{abs(q.impl_value - q.oracle_value):.2g}{bound}, err {q.err:.2g} > rtol "
            f"{tolerances.lookup(oracle_name, case.dtype).rtol:.0e}; {context})")
