"""The report's shared vocabulary: verdict names, number formats, colour grades and labels.

Numbers in the results may be floats or the strings "inf", "-inf" and "nan"; every module of
the report reads them through ``num`` so that a non-finite error can never look like a pass.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from deltacheck.core.verdicts import ERROR, FAIL, NOT_JUDGED, PASS

__all__ = ["ERROR", "FAIL", "NOT_JUDGED", "PASS"]
GRADIENTS = ("deltas", "grad_weights", "grad_biases")
SYMBOL = {"loss": "E", "deltas": "δ", "grad_weights": "∂W", "grad_biases": "∂b"}
NO_HIDDEN = "(none)"
NEAR = 0.1  # an err above a tenth of rtol is one digit of drift away from failing


def num(v: Any) -> float:
    """A number of the results as a float; "inf", "nan", "-inf" and None are non-finite."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    try:
        return float(v) if isinstance(v, str) else math.nan
    except ValueError:
        return math.nan


def count(v: Any) -> int:
    """A count of the results as an int; anything non-finite or missing counts as 0."""
    n = num(v)
    return int(n) if math.isfinite(n) else 0


def rank(v: float) -> tuple[bool, float]:
    """A sort key for errors: nan ranks above inf, so it is never hidden behind a finite one."""
    return (True, 0.0) if math.isnan(v) else (False, v)


def fmt_err(v: Any) -> str:
    """An error, short: 0, 4.6e-4, 0.22, 33, 1e-12, inf or nan."""
    e = num(v)
    if e == 0 or not math.isfinite(e):
        return "0" if e == 0 else str(e)
    rounded = float(f"{e:.1e}")
    if 0.1 <= abs(rounded) < 1000:  # as the messages write it: "err 0.22", "err 33", not 3.3e1
        return f"{rounded:g}"
    mantissa, exponent = f"{e:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


def fmt_val(v: Any) -> str:
    """A value of δ, ∂W, ∂b or E with six significant digits."""
    e = num(v)
    return f"{e:.6g}" if math.isfinite(e) else str(e)


def plain(v: Any) -> str:
    """Any JSON value as one line of text, for key/value tables."""
    if v is None:
        return "—"
    if isinstance(v, Mapping):
        return "; ".join(f"{k}: {plain(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return ", ".join(plain(x) for x in v)
    return str(v).lower() if isinstance(v, bool) else str(v)


def grade(err: Any, rtol: Any, verdict: str | None = None) -> str:
    """The colour class of an error: ok, near, bad, or nj (not judged)."""
    if verdict == NOT_JUDGED:
        return "nj"
    e, r = num(err), num(rtol)
    if verdict in (FAIL, ERROR) or not (math.isfinite(e) and math.isfinite(r) and r > 0):
        return "bad"
    return "ok" if e <= NEAR * r else ("near" if e <= r else "bad")


def verdict_class(verdict: Any, err: Any) -> str:
    """The colour class of a verdict beside its error: ok, bad or nj."""
    # a non-finite error is never shown as passing, whatever verdict sits beside it
    if verdict == PASS and math.isfinite(num(err)):
        return "ok"
    return "nj" if verdict == NOT_JUDGED else "bad"


def label(q: str, layer: int | None) -> str:
    """E, δ[l], ∂W[l] or ∂b[l], indexed as the protocol's lists are."""
    return SYMBOL.get(q, q) if layer is None else f"{SYMBOL.get(q, q)}[{layer}]"


def ordered(*sources: Iterable[Any] | None) -> list[str]:
    """The distinct names of the sources as text, in order of first appearance."""
    seen: dict[str, None] = {}
    for src in sources:
        seen.update((str(x), None) for x in src or ())
    return list(seen)


def arch(case: Mapping[str, Any]) -> dict[str, Any]:
    """widths, loss, activations, dtype and batch of a case record or a whole case."""
    a = case.get("arch") or case
    return {"widths": list(a.get("widths") or []), "loss": str(a.get("loss", "")),
            "activations": [str(x) for x in a.get("activations") or []],
            "dtype": a.get("dtype", ""), "batch": a.get("batch", "")}


def arch_text(case: Mapping[str, Any]) -> str:
    """One line: widths, hidden activations, loss, dtype, batch."""
    a = arch(case)
    acts = ", ".join(a["activations"]) or "no hidden layer"
    return (f"{' → '.join(map(str, a['widths']))} · {acts} · {a['loss']} · {a['dtype']} · "
            f"batch {a['batch']}")


def unresolved(quantities: Iterable[Mapping[str, Any]]) -> int:
    """Unresolved entries: judged only to the oracle's error bar (0 in older files)."""
    return sum(count(qd.get("unresolved", 0)) for qd in quantities)


def quantities(oracle: Mapping[str, Any], n_layers: int) -> list[Mapping[str, Any]]:
    """An oracle record's quantities as dicts with q, layer, verdict and err.

    A failing case's record lists them in full; a passing case's compact record keeps only
    ``errs``, one per quantity in the order E, δ[0..L−1], ∂W[0..L−1], ∂b[0..L−1] (null where
    nothing was judged, "not provided" where the implementation does not return it).
    """
    given = oracle.get("quantities")
    if isinstance(given, list):
        return [q for q in given if isinstance(q, Mapping)]
    errs = oracle.get("errs")
    if not isinstance(errs, list):
        return []
    labels = [("loss", None)] + [(q, l) for q in GRADIENTS for l in range(n_layers)]
    return [{"q": q, "layer": l, "err": 0.0 if err is None or isinstance(err, str) else err,
             "verdict": NOT_JUDGED if err is None else err if isinstance(err, str) else PASS}
            for (q, l), err in zip(labels, errs, strict=False)]
