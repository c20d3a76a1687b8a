"""Compare an implementation's loss, δ, ∂W and ∂b with one oracle's, quantity by quantity.

Every verdict is written so that it can fail: NaN or inf never passes, a missing key or a
wrong shape is a failure with a message, and an entry is passed only by an explicit
``err <= rtol`` on finite numbers. Entries an oracle cannot judge (kinks) are counted apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltacheck import activations as registry
from deltacheck import rounding, tolerances
from deltacheck.case import Case
from deltacheck.oracles.base import QUANTITIES, Gradients

PASS, FAIL, NOT_JUDGED, ERROR = "pass", "fail", "not judged", "error"
SYMBOL = {"loss": "E", "deltas": "δ", "grad_weights": "∂W", "grad_biases": "∂b"}


@dataclass
class QuantityResult:
    """The errors of one quantity (the loss, or δ, ∂W or ∂b of one layer) against one oracle."""

    quantity: str
    layer: int | None
    verdict: str
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

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, with non-finite numbers as strings."""
        out: dict[str, Any] = {"q": self.quantity, "layer": self.layer, "verdict": self.verdict,
                               "err": json_number(self.err), "abs": json_number(self.max_abs),
                               "rel": json_number(self.max_rel), "norm": json_number(self.norm_rel),
                               "judged": self.judged, "not_judged": self.not_judged,
                               "unresolved": self.unresolved}
        if self.worst is not None and self.verdict != PASS:  # passing ones stay compact
            out["worst"] = list(self.worst)
            out["impl_value"] = json_number(self.impl_value)
            out["oracle_value"] = json_number(self.oracle_value)
        if self.message:
            out["message"] = self.message
        return out


@dataclass
class OracleResult:
    """Every quantity of one case against one oracle."""

    oracle: str
    rtol: float
    verdict: str
    quantities: list[QuantityResult] = field(default_factory=list)
    message: str = ""

    @property
    def err(self) -> float:
        """The worst judged error over all quantities (inf when something failed outright)."""
        errs = [q.err for q in self.quantities if q.verdict != NOT_JUDGED]
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
        out = {"verdict": self.verdict, "rtol": self.rtol, "err": json_number(self.err),
               "not_judged": self.not_judged,
               "quantities": [q.to_json() for q in self.quantities]}
        if self.message:
            out["message"] = self.message
        return out


def json_number(v: float | None) -> float | str | None:
    """A float for JSON: non-finite values become the strings "inf", "-inf", "nan"."""
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else str(v)


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def normalise(raw: Any, case: Case) -> tuple[Gradients | None, list[str]]:
    """Check an implementation's return value against the protocol; list what is wrong."""
    try:
        return _normalise(raw, case)
    except Exception as exc:  # a result that breaks when read is a verdict, not a crash
        return None, [f"returned a result that raised {type(exc).__name__} when read"]


def _numbers(value: Any, what: str) -> tuple[np.ndarray | None, str]:
    """The value as a float64 array, or None and why it is not an array of real numbers."""
    try:
        arr = np.asarray(value)
        if arr.dtype.kind == "O":  # lists of scalars of other libraries, ragged rows, ...
            arr = np.asarray(value, dtype=np.float64)
    except Exception as exc:
        return None, f"{what} is not an array of numbers ({type(exc).__name__})"
    if arr.dtype.kind not in "fiu":  # complex, bool, strings: not what the protocol returns
        return None, f"{what} has dtype {arr.dtype}, but should be real floats"
    return arr.astype(np.float64), ""


def _normalise(raw: Any, case: Case) -> tuple[Gradients | None, list[str]]:
    if not isinstance(raw, Mapping):
        return None, [f"returned {type(raw).__name__}, but should return a mapping with "
                      f"'loss', 'deltas', 'grad_weights' and 'grad_biases'"]
    problems = [f"the result has no {key!r}" for key in ("loss", *QUANTITIES) if key not in raw]
    if problems:
        return None, problems
    loss_array, problem = _numbers(raw["loss"], "loss")
    if loss_array is None or loss_array.size != 1:
        problems.append(problem or f"loss has shape {loss_array.shape}, but should be one float")
        loss = float("nan")
    else:
        loss = float(loss_array.reshape(()))
    shapes = {"deltas": [(case.batch, n) for n in case.widths[1:]],
              "grad_weights": [w.shape for w in case.weights],
              "grad_biases": [v.shape for v in case.biases]}
    values: dict[str, list[np.ndarray]] = {}
    for key in QUANTITIES:
        got = raw[key]
        if isinstance(got, (str, bytes, Mapping)) or not hasattr(got, "__len__"):
            problems.append(f"{key} is {type(got).__name__}, but should be a list of "
                            f"{case.n_layers} arrays")
            continue
        if len(got) != case.n_layers:
            problems.append(f"len({key})={len(got)}, but should be {case.n_layers} "
                            f"(one per layer)")
            continue
        arrays = []
        for l, (value, shape) in enumerate(zip(got, shapes[key], strict=True)):
            arr, problem = _numbers(value, f"{key}[{l}]")
            if arr is None:
                problems.append(problem)
                continue
            if arr.shape != tuple(shape):
                problems.append(f"{key}[{l}].shape={arr.shape}, but should be {tuple(shape)}")
            arrays.append(arr)
        values[key] = arrays
    if problems:
        return None, problems
    return Gradients(loss=loss, **values), []


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
    worst = np.unravel_index(int(np.argmax(masked)), y.shape) if y.ndim else ()
    result.err = float(masked[worst])
    result.max_abs = float(np.where(scope, np.where(finite, diff, np.inf), 0.0).max())
    result.max_rel = float(np.where(scope, rel, 0.0).max())
    dy = float(np.linalg.norm(np.where(scope & finite, y, 0.0)))
    dd = float(np.linalg.norm(np.where(scope, np.where(finite, diff, np.inf), 0.0)))
    result.norm_rel = 0.0 if dd == 0 else (dd / dy if dy > 0 else float("inf"))
    result.worst = tuple(int(i) for i in worst)
    result.impl_value, result.oracle_value = float(x[worst]), float(y[worst])
    if not np.isfinite(y[worst]) and np.isfinite(x[worst]):
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


def verdict_of(verdicts: list[str]) -> str:
    """Fail beats error beats pass beats not judged."""
    for v in (FAIL, ERROR, PASS):
        if v in verdicts:
            return v
    return NOT_JUDGED


def describe(q: QuantityResult, case: Case, oracle_name: str) -> str:
    """One line: what the implementation gave, what the oracle says, and the context."""
    where = q.label if not q.worst else f"{q.label}[{', '.join(map(str, q.worst))}]"
    acts = ", ".join(case.activations) or "no hidden layer"
    if q.verdict == ERROR:
        return (f"{where}: the {oracle_name} oracle gave {q.oracle_value}, so it cannot judge "
                f"({acts}, {case.loss}, {case.dtype})")
    if not np.isfinite(q.oracle_value):
        return (f"{where} = {_fmt(q.impl_value)}, and {oracle_name} gives {_fmt(q.oracle_value)} "
                f"too: a non-finite value never passes ({acts}, {case.loss}, {case.dtype})")
    tol = tolerances.lookup(oracle_name, case.dtype).rtol
    return (f"{where} = {_fmt(q.impl_value)}, but {oracle_name} says {_fmt(q.oracle_value)} "
            f"({acts}, {case.loss}, {case.dtype}, err {q.err:.2g} > {tol:.0e})")
