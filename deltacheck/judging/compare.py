"""Compare an implementation's loss, δ, ∂W and ∂b with one oracle's, quantity by quantity.

Every verdict is written so that it can fail: NaN or inf never passes, a missing key or a
wrong shape is a failure with a message, and an entry is passed only by an explicit
``err <= rtol`` on finite numbers. Entries an oracle cannot judge (kinks) are counted apart.
Reading the implementation's return value is ``deltacheck.core.protocol``'s job, the JSON form
``deltacheck.judging.records``'s, and every constant of the rule sits in ``deltacheck.core.tolerances``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltacheck.core import activations as registry
from deltacheck.core import tolerances
from deltacheck.core.case import Case
from deltacheck.core.gradients import QUANTITIES, Gradients
from deltacheck.core.numbers import distinct, json_number
from deltacheck.core.protocol import normalise
from deltacheck.core.verdicts import ERROR, FAIL, NOT_JUDGED, PASS, Verdict, worst
from deltacheck.judging import rounding
from deltacheck.judging.records import SYMBOL, OracleResult, QuantityResult

__all__ = ["ERROR", "FAIL", "NOT_JUDGED", "PASS", "SYMBOL", "Entries", "OracleResult",
           "QuantityResult", "Verdict", "compare", "compare_all", "compare_entries", "describe",
           "json_number", "judge", "normalise"]

def compare_entries(x: np.ndarray, y: np.ndarray, *, unjudged: np.ndarray | None,
                    uncertainty: np.ndarray | float, rtol: float, floor: np.ndarray | float,
                    quantity: str, layer: int | None) -> QuantityResult:
    """Judge one quantity: |x − y| ≤ rtol s + u + floor on every judged entry, s = max |y|."""
    return judge([Entries(quantity, layer, x, y, rtol, unjudged, uncertainty, floor)])[0]


@dataclass
class Entries:
    """One quantity to judge: the implementation's values x and an oracle's y, with the rule's terms."""

    quantity: str
    layer: int | None
    x: Any
    y: Any
    rtol: float
    unjudged: np.ndarray | None = None
    uncertainty: np.ndarray | float = 0.0
    floor: np.ndarray | float = 0.0


_SCALARS = (float, int, bool, np.number, np.bool_)


_ZEROS: dict[Any, np.ndarray] = {}  # per dtype, zeros to take slices of (never written to)


def _zeros(size: int, dtype: Any) -> np.ndarray:
    """``size`` zeros of ``dtype``, as a read-only view (cheaper than a new array each time)."""
    zeros = _ZEROS.get(dtype)
    if zeros is None or zeros.size < size:
        zeros = np.zeros(max(size, 4096), dtype=dtype)
        zeros.setflags(write=False)
        _ZEROS[dtype] = zeros
    return zeros[:size]


def _column(values: Sequence[Any], shapes: Sequence[tuple[int, ...]], sizes: Sequence[int],
            dtype: Any = np.float64) -> np.ndarray:
    """Each value (a scalar, or an array of its quantity's shape) flat, laid end to end."""
    if all(isinstance(v, _SCALARS) for v in values):
        return np.repeat(np.array(values, dtype=dtype), sizes)
    parts = []
    for value, shape, size in zip(values, shapes, sizes, strict=True):
        if type(value) is np.ndarray and value.shape == shape:  # the common case, kept cheap
            parts.append(value.reshape(size))
        elif isinstance(value, _SCALARS):
            parts.append(_zeros(size, dtype) if value == 0 else np.full(size, value, dtype=dtype))
        else:  # a list, or an array that broadcasts to the quantity
            parts.append(np.broadcast_to(np.asarray(value, dtype=dtype), shape).reshape(size))
    return np.concatenate(parts, dtype=dtype)


def _index(i: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The position of flat entry i in an array of ``shape`` (row-major)."""
    if len(shape) == 1:
        return (i,)
    return tuple(int(k) for k in np.unravel_index(i, shape)) if shape else ()


def _norms(v: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The 2-norm of each segment of each row of v, scaled so that squaring cannot overflow."""
    top = np.maximum.reduceat(np.abs(v), starts, axis=-1)
    scale = np.where((top > 0) & np.isfinite(top), top, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):  # an inf in the segment: its norm is inf
        norm = scale * np.sqrt(np.add.reduceat((v / np.repeat(scale, lengths, axis=-1)) ** 2,
                                               starts, axis=-1))
    return np.where(np.isinf(top), np.inf, norm)


def judge(items: Sequence[Entries]) -> list[QuantityResult]:
    """Judge many quantities at once: |x − y| ≤ rtol s + u + floor on every judged entry.

    s = max |y| over the quantity's finite entries. All quantities are laid end to end and
    judged by one set of array operations (segment reductions), which is what keeps a case's
    dozens of comparisons cheap; the verdicts are those of judging each quantity alone.
    """
    shapes = [np.shape(item.y) for item in items]
    sizes = [math.prod(shape) for shape in shapes]
    results: list[Any] = [
        None if size else QuantityResult(quantity=item.quantity, layer=item.layer,
                                         verdict=NOT_JUDGED, allowed=np.zeros(shape))
        for item, shape, size in zip(items, shapes, sizes, strict=True)]
    live = [k for k, size in enumerate(sizes) if size]  # an empty quantity has nothing to judge
    if not live:
        return results
    n = sum(sizes[k] for k in live)
    lengths = np.array([sizes[k] for k in live])
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    shapes_, sizes_ = [shapes[k] for k in live], [sizes[k] for k in live]

    def column(field: str, dtype: Any = np.float64) -> np.ndarray:
        return _column([getattr(items[k], field) for k in live], shapes_, sizes_, dtype)

    X, Y, U, F = column("x"), column("y"), column("uncertainty"), column("floor")
    R = np.repeat([items[k].rtol for k in live], lengths)
    judged = ~_column([False if items[k].unjudged is None else items[k].unjudged for k in live],
                      shapes_, sizes_, dtype=bool)
    finite_y, finite_x = np.isfinite(Y), np.isfinite(X)
    S = np.repeat(np.maximum.reduceat(np.where(finite_y, np.abs(Y), 0.0), starts), lengths)
    # Where the oracle's own error bar is wider than the tolerance, the entry is still judged
    # (a gross error fails), but only to the bar: counted apart so that it is never hidden.
    unresolved = judged & (U > R * S + F)
    allowed = R * S + U + F
    finite = finite_x & finite_y
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        diff = np.abs(X - Y)
        err = diff / (S + (U + F) / R)
        rel = diff / np.abs(Y)
    same = diff == 0
    err = np.where(finite, np.where(same, 0.0, err), np.inf)
    rel = np.where(finite, np.where(same, 0.0, rel), np.inf)
    # NaN or inf in the implementation's output fails wherever it sits, judged or not.
    scope = judged | ~finite_x
    masked = np.where(scope, np.where(np.isnan(err), np.inf, err), -1.0)
    top = np.maximum.reduceat(masked, starts)
    at = np.minimum.reduceat(np.where(masked == np.repeat(top, lengths), np.arange(n), n), starts)
    gap = np.where(finite, diff, np.inf)
    counts = np.add.reduceat(np.stack([judged, unresolved, scope]).astype(np.intp), starts,
                             axis=1)
    n_judged = counts[0]
    biggest = np.maximum.reduceat(np.where(scope, np.stack([gap, rel]), 0.0), starts, axis=1)
    norms = _norms(np.stack([np.where(scope & finite, Y, 0.0), np.where(scope, gap, 0.0)]),
                   starts, lengths)
    # Each quantity's verdict, worst entry and values, for all of them at once.
    at = np.minimum(at, n - 1)  # (an unjudged quantity's is not used)
    rtols = R[starts]
    verdicts = np.where(~finite_y[at] & finite_x[at], 1, np.where(top <= rtols, 0, 2))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        norm_rel = np.where(norms[1] == 0, 0.0,
                            np.where(norms[0] > 0, norms[1] / norms[0], np.inf))
    # the worst entry's row and column, where a quantity is a matrix
    rows, cols = np.divmod(at - starts, [shape[1] if len(shape) == 2 else 1 for shape in shapes_])
    columns = zip(live, starts.tolist(), (at - starts).tolist(), rows.tolist(), cols.tolist(),
                  top.tolist(), n_judged.tolist(), (lengths - n_judged).tolist(),
                  counts[1].tolist(), counts[2].tolist(), *biggest.tolist(), norm_rel.tolist(),
                  X[at].tolist(), Y[at].tolist(), verdicts.tolist(), strict=True)
    for k, start, peak, row, col, err_k, n_judged, n_not, n_unresolved, n_scope, big, big_rel, \
            ratio, x_k, y_k, verdict in columns:
        item, shape = items[k], shapes[k]
        allowed_k = allowed[start:start + sizes[k]].reshape(shape)
        if not n_scope:
            results[k] = QuantityResult(item.quantity, item.layer, NOT_JUDGED, judged=n_judged,
                                        not_judged=n_not, unresolved=n_unresolved,
                                        allowed=allowed_k)
            continue
        # verdict: ERROR where only the oracle's value is not finite; FAIL unless err <= rtol
        # (written that way round, so that NaN fails)
        worst = (row, col) if len(shape) == 2 else _index(peak, shape)
        results[k] = QuantityResult(item.quantity, item.layer, _VERDICTS[verdict], err_k, big,
                                    big_rel, ratio, worst, x_k, y_k, n_judged, n_not,
                                    n_unresolved, "", allowed_k)
    return results


_VERDICTS = (PASS, ERROR, FAIL)


def _entries(case: Case, impl: Gradients, oracle: Gradients, rtol: float,
             floors: dict[str, Any]) -> list[Entries]:
    """Every quantity of a case against one oracle: E, then δ, ∂W and ∂b of each layer."""
    items = [Entries("loss", None, impl.loss, oracle.loss, rtol,
                     uncertainty=oracle.loss_uncertainty, floor=floors["loss"])]
    none = [None] * case.n_layers
    for key in QUANTITIES:
        unjudged = oracle.unjudged.get(key, none)
        uncertainty = oracle.uncertainty.get(key, none)
        items += [Entries(key, l, impl.quantity(key)[l], oracle.quantity(key)[l], rtol,
                          unjudged[l], 0.0 if (u := uncertainty[l]) is None else u,
                          floors[key][l])
                  for l in range(case.n_layers)]
    return items


def compare_all(case: Case, impl: Gradients, oracles: dict[str, Gradients], *,
                forward: rounding.Forward | None = None) -> dict[str, OracleResult]:
    """Compare every quantity of the implementation with each oracle's, all in one pass.

    The truth-independent half of the floor analysis (the forward pass, ``forward`` when the
    caller has it) is done once per case; each oracle's floors then use its own δ.
    """
    acts = [registry.get(name) for name in case.activations]
    if forward is None:  # shared by every oracle's floors
        forward = rounding.forward(case, acts)
    items: list[Entries] = []
    spans = {}
    each = rounding.floors_of_each(case, acts, list(oracles.values()), forward_pass=forward)
    for (name, oracle), floors in zip(oracles.items(), each, strict=True):
        rtol = tolerances.lookup(name, case.dtype).rtol
        spans[name] = (len(items), rtol)
        items += _entries(case, impl, oracle, rtol, floors)
    judged = judge(items)
    return {name: _oracle_result(case, name, rtol, judged[start:start + 1 + 3 * case.n_layers])
            for name, (start, rtol) in spans.items()}


def _oracle_result(case: Case, name: str, rtol: float,
                   quantities: list[QuantityResult]) -> OracleResult:
    """One oracle's judged quantities, with a message for each that failed."""
    for q in quantities:
        if q.verdict in (FAIL, ERROR):
            q.message = describe(q, case, name)
    return OracleResult(oracle=name, rtol=rtol, verdict=worst([q.verdict for q in quantities]),
                        quantities=quantities)


def compare(case: Case, impl: Gradients, oracle: Gradients, *, oracle_name: str,
            floors: dict[str, Any] | None = None) -> OracleResult:
    """Compare every quantity of the implementation with one oracle's."""
    if floors is None:
        return compare_all(case, impl, {oracle_name: oracle})[oracle_name]
    rtol = tolerances.lookup(oracle_name, case.dtype).rtol
    return _oracle_result(case, oracle_name, rtol,
                          judge(_entries(case, impl, oracle, rtol, floors)))


def describe(q: QuantityResult, case: Case, oracle_name: str) -> str:
    """One line: what the implementation gave, what the oracle says, by how much, and the context."""
    where = q.label if not q.worst else f"{q.label}[{', '.join(map(str, q.worst))}]"
    acts = ", ".join(case.activations) or "no hidden layer"
    context = f"{acts}, {case.loss}, {case.dtype}"
    if q.verdict == ERROR:
        return (f"{where}: the {oracle_name} oracle gave {q.oracle_value}, so it cannot judge "
                f"({context})")
    assert q.impl_value is not None and q.oracle_value is not None  # judge() sets both
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
