"""Render a ``deltacheck-results/1`` dictionary as one self-contained HTML page.

The page carries its own CSS and inline SVG and points at nothing outside itself, so CI can
archive it and anyone can open it offline. Jinja2 autoescapes every string of the results:
implementation names, activation names, messages and tracebacks come from users.
"""

from __future__ import annotations

import math
import pathlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

try:
    import jinja2
except ModuleNotFoundError as e:  # the report is an optional extra of the package
    raise ModuleNotFoundError("the HTML report needs jinja2: pip install 'deltacheck[report]'"
                              ) from e

from reports import svg

PASS, FAIL, NOT_JUDGED, ERROR = "pass", "fail", "not judged", "error"
GRADIENTS = ("deltas", "grad_weights", "grad_biases")
SYMBOL = {"loss": "E", "deltas": "δ", "grad_weights": "∂W", "grad_biases": "∂b"}
AXES = {"deltas": ("sample n", "unit j"), "grad_weights": ("to unit j", "from unit i"),
        "grad_biases": ("", "unit j"), "loss": ("", "")}
OUTPUT_ACTIVATION = {"mse": "identity", "bce": "sigmoid", "ce": "softmax"}
NO_HIDDEN = "(none)"
MAX_FULL_FAILURES = 20  # the JSON holds every failure; past this the page lists them compactly
MAX_LISTED = 200  # rows of further failing cases, so a broken run still gives a small page
WINDOW = 8  # rows and columns of a value table shown around its worst entry
NEAR = 0.1  # an err above a tenth of rtol is one digit of drift away from failing
FLOOR_DECADES = 8  # errors this far below every rtol are drawn together: all that matters is 0
# Mirrors deltacheck.tolerances (reports may not import the harness): atol = 64 ε max(1, |E|).
ATOL_EPS_FACTOR = 64.0


def num(v: Any) -> float:
    """A number of the results as a float; "inf", "nan", "-inf" and None are non-finite."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    try:
        return float(v) if isinstance(v, str) else math.nan
    except ValueError:
        return math.nan


def _rank(v: float) -> tuple[bool, float]:
    # nan ranks above inf, so a nan error is never hidden behind a finite worst
    return (True, 0.0) if math.isnan(v) else (False, v)


def fmt_err(v: Any) -> str:
    """An error, short: 0, 4.6e-4, 1e-12, inf or nan."""
    e = num(v)
    if e == 0 or not math.isfinite(e):
        return "0" if e == 0 else str(e)
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


def _count(v: Any) -> int:
    n = num(v)
    return int(n) if math.isfinite(n) else 0


def _verdict_class(verdict: Any, err: Any) -> str:
    # a non-finite error is never shown as passing, whatever verdict sits beside it
    if verdict == PASS and math.isfinite(num(err)):
        return "ok"
    return "nj" if verdict == NOT_JUDGED else "bad"


def label(q: str, layer: int | None) -> str:
    """E, δ[l], ∂W[l] or ∂b[l], indexed as the protocol's lists are."""
    return SYMBOL.get(q, q) if layer is None else f"{SYMBOL.get(q, q)}[{layer}]"


def _ordered(*sources: Iterable[Any] | None) -> list[str]:
    seen: dict[str, None] = {}
    for src in sources:
        seen.update((str(x), None) for x in src or ())
    return list(seen)


def _arch(case: Mapping[str, Any]) -> dict[str, Any]:
    arch = case.get("arch") or case
    return {"widths": list(arch.get("widths") or []), "loss": str(arch.get("loss", "")),
            "activations": [str(a) for a in arch.get("activations") or []],
            "dtype": arch.get("dtype", ""), "batch": arch.get("batch", "")}


def arch_text(arch: Mapping[str, Any]) -> str:
    """One line: widths, hidden activations, loss, dtype, batch."""
    a = _arch(arch)
    acts = ", ".join(a["activations"]) or "no hidden layer"
    return (f"{' → '.join(map(str, a['widths']))} · {acts} · {a['loss']} · {a['dtype']} · "
            f"batch {a['batch']}")


# ---- verdict ---------------------------------------------------------------------------------

def _verdict(summary: Mapping[str, Any], cases: list[dict], failures: list[dict],
             oracles: list[str]) -> dict[str, Any]:
    failing = [c for c in cases if c.get("verdict") in (FAIL, ERROR)]
    n_failed = max(_count(summary.get("failed_cases", 0)), len(failing))
    verdict = summary.get("verdict", FAIL if failing else (PASS if cases else NOT_JUDGED))
    # A report must never say "all agree" beside a listed failure, whatever the summary says.
    if verdict == PASS and (failures or failing or n_failed):
        verdict = FAIL
    n = summary.get("cases", len(cases))
    judged = summary.get("judged_entries") or {}
    skipped = summary.get("not_judged_entries") or {}
    headline, detail = {
        PASS: ("All oracles agree",
               f"All {n} cases agree with {', '.join(oracles) or 'every oracle'} "
               "within tolerance."),
        FAIL: ("Disagreement found",
               f"{n_failed} of {n} cases disagree with at least one oracle."),
    }.get(verdict, ("Nothing judged", "No entry of any case could be judged."))
    return {"verdict": verdict, "cls": {PASS: "ok", FAIL: "bad"}.get(verdict, "nj"),
            "headline": headline, "detail": detail,
            "first": summary.get("first_disagreement"),
            "stats": [("cases", n), ("failing", n_failed), ("oracles", len(oracles)),
                      ("judged entries", sum(_count(v) for v in judged.values())),
                      ("not judged", sum(_count(v) for v in skipped.values()))]}


# ---- failures --------------------------------------------------------------------------------

def _grid(v: Any) -> np.ndarray | None:
    """Values as a 2-D float array (a scalar is 1×1, a vector one row), or None."""
    if v is None:
        return None
    try:
        a = np.array(v, dtype=object)
    except ValueError:  # ragged: the implementation returned something odd
        return None
    if a.ndim > 2:
        return None
    return np.atleast_2d(np.vectorize(num, otypes=[float])(a) if a.size else a.astype(float))


def _mask(v: Any, shape: tuple[int, ...]) -> np.ndarray:
    """An unjudged mask shaped like its values; all False when absent or malformed."""
    try:
        m = np.atleast_2d(np.array(v, dtype=bool)) if v is not None else None
    except (TypeError, ValueError):
        m = None
    return m if m is not None and m.shape == shape else np.zeros(shape, dtype=bool)


def _pick(record: Mapping[str, Any] | None, q: str, layer: int | None) -> Any:
    if not record:
        return None
    if layer is None:
        return record.get(q)
    seq = record.get(q)
    return seq[layer] if isinstance(seq, list) and 0 <= layer < len(seq) else None


def _exceeds(x: np.ndarray, y: np.ndarray, unjudged: np.ndarray, rtol: float,
             atol: float) -> np.ndarray:
    """Entries whose err passes rtol, as deltacheck.compare judges them (without u)."""
    # The oracle's own error bar u is not in the JSON, so finite-difference highlights may be
    # slightly stricter than the verdict; they never hide an entry the verdict failed.
    with np.errstate(all="ignore"):
        diff = np.abs(x - y)
        s = float(np.abs(y[np.isfinite(y)]).max(initial=0.0))
        err = diff / (np.abs(y) + s + atol / rtol)
        err = np.where(diff == 0, 0.0, err)
        err = np.where(np.isfinite(x) & np.isfinite(y), err, np.inf)
        return ~(err <= rtol) & (~unjudged | ~np.isfinite(x))


def _window(n: int, centre: int) -> range:
    start = min(max(centre - WINDOW // 2, 0), max(n - WINDOW, 0))
    return range(start, min(start + WINDOW, n))


def _table(name: str, caption: str, v: np.ndarray, rows: range, cols: range,
           marks: Mapping[str, np.ndarray]) -> dict[str, Any]:
    def cls(i: int, j: int) -> str:
        return " ".join(k for k, m in marks.items() if m[i, j])

    clipped = ""
    if (len(rows), len(cols)) != v.shape:
        bad = marks.get("bad", np.zeros(v.shape, dtype=bool))
        hidden = int(bad.sum() - bad[rows.start:rows.stop, cols.start:cols.stop].sum())
        clipped = (f"rows {rows.start}–{rows.stop - 1} of {v.shape[0]}, columns "
                   f"{cols.start}–{cols.stop - 1} of {v.shape[1]}"
                   + (f"; {hidden} more {'entry' if hidden == 1 else 'entries'} beyond "
                      "tolerance outside this window" if hidden else ""))
    return {"name": name, "caption": caption, "cols": list(cols), "headers": v.size > 1,
            "clipped": clipped,
            "rows": [{"head": i, "cells": [{"text": fmt_val(v[i, j]), "cls": cls(i, j)}
                                           for j in cols]} for i in rows]}


def _values(q: str, layer: int | None, failure: Mapping[str, Any],
            oracles: list[str]) -> dict[str, Any]:
    """The implementation's values of one quantity beside each oracle's, marked up."""
    values, results = failure.get("values") or {}, failure.get("oracles") or {}
    out: dict[str, Any] = {"label": label(q, layer), "axes": AXES.get(q, ("", "")),
                           "messages": [], "tables": []}
    x = _grid(_pick(values.get("impl"), q, layer))
    if x is None:
        out["note"] = "The implementation returned no usable values for this quantity."
        return out
    eps = float(np.finfo(np.float32 if "32" in str(_arch(failure.get("case") or {})["dtype"])
                         else np.float64).eps)
    per: list[tuple[str, np.ndarray, dict[str, np.ndarray], str]] = []
    centre: tuple[int, int] | None = None
    for o in oracles:
        y = _grid(_pick(values.get(o), q, layer))
        if y is None or y.shape != x.shape:
            continue
        res = _quantity(results.get(o) or {}, q, layer)
        unj = _mask(_pick((values.get(o) or {}).get("unjudged"), q, layer), y.shape)
        rtol = num((results.get(o) or {}).get("rtol"))
        loss = abs(num((values.get(o) or {}).get("loss")))
        atol = ATOL_EPS_FACTOR * eps * (max(1.0, loss) if math.isfinite(loss) else 1.0)
        worst = np.zeros(y.shape, dtype=bool)
        idx = [int(i) for i in res.get("worst") or []]
        at = (0, 0) if not idx else ((0, idx[0]) if len(idx) == 1 else tuple(idx[:2]))
        if all(0 <= a < n for a, n in zip(at, y.shape, strict=True)):
            worst[at] = True
            if centre is None and res.get("verdict") in (FAIL, ERROR):
                centre = (at[0], at[1])
        bad = _exceeds(x, y, unj, rtol, atol)
        if res.get("message"):
            out["messages"].append(res["message"])
        verdict = res.get("verdict", "")
        sign = {PASS: "≤", FAIL: ">", ERROR: ">"}.get(verdict, "")
        caption = (f"{o}: not judged" if verdict == NOT_JUDGED
                   else f"{o}: err {fmt_err(res.get('err'))} {sign} rtol {fmt_err(rtol)}")
        per.append((o, y, {"worst": worst, "bad": bad, "nj": unj}, caption))
    # The implementation's table marks what any oracle marks; greys what none can judge.
    union = {"worst": np.zeros(x.shape, dtype=bool), "bad": np.zeros(x.shape, dtype=bool),
             "nj": np.full(x.shape, bool(per))}
    for _, _, m, _ in per:
        union["worst"] |= m["worst"]
        union["bad"] |= m["bad"]
        union["nj"] &= m["nj"]
    if centre is None:
        hot = np.argwhere(union["bad"])
        centre = (int(hot[0][0]), int(hot[0][1])) if len(hot) else (0, 0)
    rows, cols = _window(x.shape[0], centre[0]), _window(x.shape[1], centre[1])
    out["tables"] = [_table("implementation", "implementation", x, rows, cols, union)]
    out["tables"] += [_table(o, cap, y, rows, cols, m) for o, y, m, cap in per]
    return out


def _quantity(result: Mapping[str, Any], q: str, layer: int | None) -> dict[str, Any]:
    for qd in result.get("quantities") or []:
        if qd.get("q") == q and qd.get("layer") == layer:
            return qd
    return {}


def _quantity_rows(results: Mapping[str, Any], oracles: list[str]) -> list[dict[str, Any]]:
    keys = _ordered_keys(results, oracles)
    rows = []
    for q, layer in keys:
        cells = []
        for o in oracles:
            qd = _quantity(results.get(o) or {}, q, layer)
            v = qd.get("verdict", "")
            tip = (f"{o} {label(q, layer)}: {v or 'missing'}; err {fmt_err(qd.get('err'))}, "
                   f"max abs {fmt_err(qd.get('abs'))}, max rel {fmt_err(qd.get('rel'))}, "
                   f"normwise {fmt_err(qd.get('norm'))}; {qd.get('judged', 0)} judged, "
                   f"{qd.get('not_judged', 0)} not judged")
            text = "n.j." if v == NOT_JUDGED else (fmt_err(qd.get("err")) if qd else "—")
            cells.append({"text": text, "tip": tip, "cls": grade(
                qd.get("err"), (results.get(o) or {}).get("rtol"), v) if qd else "none"})
        failed = any(c["cls"] == "bad" for c in cells)
        rows.append({"q": q, "layer": layer, "label": label(q, layer), "cells": cells,
                     "failed": failed})
    return rows


def _ordered_keys(results: Mapping[str, Any], oracles: list[str]) -> list[tuple[str, Any]]:
    keys: dict[tuple[str, Any], None] = {}
    for o in oracles:
        keys.update(((qd.get("q"), qd.get("layer")), None)
                    for qd in (results.get(o) or {}).get("quantities") or [])
    return list(keys)


def _failure(f: Mapping[str, Any], oracles: list[str]) -> dict[str, Any]:
    case, results = f.get("case") or {}, f.get("oracles") or {}
    arch = _arch(case)
    names = [o for o in oracles if o in results] + [o for o in results if o not in oracles]
    rows = _quantity_rows(results, names)
    output = OUTPUT_ACTIVATION.get(arch["loss"], arch["loss"])
    drawable = arch["widths"] and all(isinstance(n, int) for n in arch["widths"])
    return {"id": f.get("id"), "minimal": bool(f.get("minimal")), "message": f.get("message"),
            "repro": f.get("repro"), "arch": arch, "output": output,
            "network": svg.network(arch["widths"], ["input", *arch["activations"], output])
            if drawable else None,
            "problem": f.get("impl_problem") or "", "traceback": f.get("impl_traceback") or "",
            "oracle_messages": [(o, r["message"]) for o, r in results.items()
                                if isinstance(r, Mapping) and r.get("message")],
            "oracles": names, "rows": rows,
            "side_by_side": [_values(r["q"], r["layer"], f, names) for r in rows if r["failed"]]}


def _failures(failures: list[dict], cases: list[dict], oracles: list[str]) -> dict[str, Any]:
    ordered = sorted(failures, key=lambda f: not f.get("minimal"))  # stable: minimal first
    listed = {f.get("id") for f in failures}
    others = [c for c in cases if c.get("verdict") in (FAIL, ERROR) and c.get("id") not in listed]
    return {"full": [_failure(f, oracles) for f in ordered[:MAX_FULL_FAILURES]],
            "more": [{"id": f.get("id"), "message": f.get("message"), "repro": f.get("repro")}
                     for f in ordered[MAX_FULL_FAILURES:]],
            "others": [{"id": c.get("id"), "phase": c.get("phase"), "arch": arch_text(c),
                        "message": c.get("message") or "", "problem": c.get("problem") or ""}
                       for c in others[:MAX_LISTED]],
            "others_left": max(0, len(others) - MAX_LISTED)}


# ---- aggregates over all cases ----------------------------------------------------------------

def _matrix(cases: list[dict], losses: list[str], acts: list[str],
            oracles: list[str]) -> list[dict[str, Any]]:
    """Loss × activation × oracle: the worst err of the cases in each cell."""
    cells: dict[tuple[str, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for c in cases:
        a = _arch(c)
        for o, r in (c.get("oracles") or {}).items():
            for act in set(a["activations"]) or {NO_HIDDEN}:
                cells[(a["loss"], act, o)].append(r)
    rows = []
    for loss in losses:
        for i, o in enumerate(oracles):
            row = []
            for act in acts:
                recs = cells.get((loss, act, o), [])
                if not recs:
                    row.append({"text": "", "n": 0, "cls": "none", "tip": "no cases"})
                    continue
                worst = max(recs, key=lambda r: _rank(num(r.get("err"))))
                verdicts = {r.get("verdict") for r in recs}
                v = (FAIL if verdicts & {FAIL, ERROR} else
                     NOT_JUDGED if verdicts == {NOT_JUDGED} else None)
                failing = sum(r.get("verdict") in (FAIL, ERROR) for r in recs)
                row.append({"text": fmt_err(worst.get("err")), "n": len(recs),
                            "cls": grade(worst.get("err"), worst.get("rtol"), v),
                            "tip": f"{loss} · {act} · {o}: worst err {fmt_err(worst.get('err'))} "
                                   f"(rtol {fmt_err(worst.get('rtol'))}); {len(recs)} cases, "
                                   f"{failing} failing"})
            rows.append({"loss": loss, "oracle": o, "first": i == 0, "span": len(oracles),
                         "cells": row})
    return rows


def _judged_errors(cases: list[dict]) -> Iterable[tuple[str, int, Mapping[str, Any], float]]:
    """(oracle, layers L, quantity record, rtol) for every judged quantity of every case."""
    for c in cases:
        n_layers = len(_arch(c)["widths"]) - 1
        for o, r in (c.get("oracles") or {}).items():
            rtol = num(r.get("rtol"))
            for qd in r.get("quantities") or []:
                if qd.get("verdict") != NOT_JUDGED:
                    yield o, n_layers, qd, rtol


def _tolerance_lines(rtols: Mapping[str, set[float]], oracles: list[str],
                     colours: Mapping[str, str]) -> list[tuple[float, str, str]]:
    by_value: dict[float, list[str]] = defaultdict(list)
    for o in oracles:
        for r in rtols.get(o, ()):
            if math.isfinite(r):
                by_value[r].append(o)
    return [(r, colours[os[0]] if len(os) == 1 else svg.INK, f"rtol {fmt_err(r)}\n{', '.join(os)}")
            for r, os in sorted(by_value.items())]


def _floor(rtols: Iterable[float]) -> int | None:
    """The decade below which errors are drawn together: eight below the smallest rtol."""
    good = [r for r in rtols if math.isfinite(r) and r > 0]
    return math.floor(math.log10(min(good))) - FLOOR_DECADES if good else None


def _median(v: list[float]) -> float:
    s = sorted(v, key=_rank)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def _depth(cases: list[dict], oracles: list[str], colours: Mapping[str, str]) -> list[Any]:
    """Worst and median err of δ, ∂W and ∂b against the layer's distance from the output."""
    errs: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    rtols: dict[str, set[float]] = defaultdict(set)
    far = 0
    for o, n_layers, qd, rtol in _judged_errors(cases):
        rtols[o].add(rtol)
        layer = qd.get("layer")
        if qd.get("q") in GRADIENTS and isinstance(layer, int) and 0 <= layer < n_layers:
            d = n_layers - 1 - layer
            far = max(far, d)
            errs[(qd["q"], o)][d].append(num(qd.get("err")))
    lines = _tolerance_lines(rtols, oracles, colours)
    floor = _floor(r for rs in rtols.values() for r in rs)
    charts = []
    for q in GRADIENTS:
        series = []
        for o in oracles:
            by_d = errs.get((q, o), {})
            worst = [(d, max(v, key=_rank)) for d, v in by_d.items()]
            series.append(svg.Series(f"{o} worst {SYMBOL[q]}", colours[o], worst))
            series.append(svg.Series(f"{o} median {SYMBOL[q]}", colours[o],
                                     [(d, _median(v)) for d, v in by_d.items()],
                                     dashed=True, hollow=True))
        charts.append(svg.log_chart(series, lines, x_max=far, title=f"{SYMBOL[q]} ({q})",
                                    x_label="layers from the output (0 = output layer)",
                                    floor=floor))
    return charts


def _histograms(cases: list[dict], oracles: list[str], colours: Mapping[str, str]) -> list[Any]:
    """One histogram of log10(err) per oracle, on shared decade bins."""
    errs: dict[str, list[float]] = {o: [] for o in oracles}
    rtols: dict[str, float] = {}
    for o, _, qd, rtol in _judged_errors(cases):
        errs.setdefault(o, []).append(num(qd.get("err")))
        rtols[o] = min(rtols.get(o, rtol), rtol) if math.isfinite(rtol) else rtols.get(o, rtol)
    pos = [e for v in errs.values() for e in v if math.isfinite(e) and e > 0]
    lo, hi, clipped = svg.log_range(pos + list(rtols.values()), _floor(rtols.values()))
    # bins are [10**k, 10**(k+1)): the top one must hold the largest value itself
    top = [v for v in pos + list(rtols.values()) if math.isfinite(v) and v > 0]
    hi = max(hi, lo + 1, math.floor(math.log10(max(top))) + 1 if top else lo + 1)
    odd = any(not math.isfinite(e) for v in errs.values() for e in v)
    labels = ["0", *(("≤" if clipped and k == lo else "") + str(k) for k in range(lo, hi)),
              *(["∞"] if odd else [])]
    charts = []
    for o in oracles:
        counts = [0] * len(labels)
        for e in errs.get(o, []):
            i = (len(labels) - 1 if not math.isfinite(e) else 0 if e <= 0 else
                 1 + min(max(math.floor(math.log10(e)) - lo, 0), hi - lo - 1))
            counts[i] += 1
        r = rtols.get(o, math.nan)
        fills = [svg.OK] + [svg.BAD if 10.0**k >= r else svg.NEAR if 10.0 ** (k + 1) > r
                            else colours[o] for k in range(lo, hi)] + ([svg.BAD] if odd else [])
        tol_at = 1 + math.log10(r) - lo if math.isfinite(r) and r > 0 else None
        charts.append(svg.histogram(counts, labels, fills, tol_at=tol_at,
                                    tol_label=f"rtol {fmt_err(r)}",
                                    title=f"{o}: {len(errs.get(o, []))} judged quantities"))
    return charts


def _not_judged(summary: Mapping[str, Any], cases: list[dict], oracles: list[str],
                acts: list[str]) -> dict[str, Any]:
    judged, skipped = summary.get("judged_entries") or {}, summary.get("not_judged_entries") or {}
    per_act: dict[str, Counter[str]] = defaultdict(Counter)
    n_cases: Counter[str] = Counter()
    for c in cases:
        hidden = set(_arch(c)["activations"]) or {NO_HIDDEN}
        for act in hidden:
            n_cases[act] += 1
            for o, r in (c.get("oracles") or {}).items():
                per_act[act][o] += _count(r.get("not_judged"))
    rows = []
    for o in oracles:
        j, s = _count(judged.get(o, 0)), _count(skipped.get(o, 0))
        share = s / (j + s) if j + s else 0.0
        rows.append({"oracle": o, "judged": j, "not_judged": s, "share": f"{share:.1%}",
                     "bar": f"{100 * share:.1f}"})
    return {"rows": rows, "acts": [{"act": a, "cases": n_cases[a],
                                    "counts": [per_act[a][o] for o in oracles]}
                                   for a in acts if n_cases[a]]}


def _passing(cases: list[dict], losses: list[str], summary: Mapping[str, Any]) -> dict[str, Any]:
    """Counts of passing cases by loss and number of hidden layers, and the per-loss table."""
    depths = sorted({len(_arch(c)["activations"]) for c in cases})
    tally: Counter[tuple[str, int, bool]] = Counter(
        (_arch(c)["loss"], len(_arch(c)["activations"]), c.get("verdict") == PASS)
        for c in cases)
    grid = [{"loss": loss, "cells": [(tally[(loss, d, True)],
                                      tally[(loss, d, True)] + tally[(loss, d, False)])
                                     for d in depths]} for loss in losses]
    by_loss = [dict(r, cls=_verdict_class(r.get("verdict"), r.get("worst_err")))
               for r in summary.get("by_loss_oracle") or []]
    return {"depths": depths, "grid": grid, "by_loss": by_loss,
            "phases": Counter(str(c.get("phase")) for c in cases).most_common(),
            "passed": sum(c.get("verdict") == PASS for c in cases), "total": len(cases)}


# ---- the page --------------------------------------------------------------------------------

def context(results: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the template shows, derived from the results dictionary."""
    run = dict(results.get("run") or {})
    summary = results.get("summary") or {}
    cases = [c for c in results.get("cases") or [] if isinstance(c, Mapping)]
    failures = [f for f in results.get("failures") or [] if isinstance(f, Mapping)]
    oracles = _ordered(run.get("oracles"), (o for c in cases for o in c.get("oracles") or {}),
                       (o for f in failures for o in f.get("oracles") or {}))
    losses = _ordered(run.get("losses"), (_arch(c)["loss"] for c in cases))
    acts = [*_ordered(run.get("activations"),
                      (a for c in cases for a in _arch(c)["activations"])), NO_HIDDEN]
    colours = {o: svg.colour(i) for i, o in enumerate(oracles)}
    dtype = run.get("dtype") or (results.get("environment") or {}).get("dtype")
    return {"schema": results.get("schema", ""), "run": run, "oracles": oracles,
            "colours": colours, "acts": acts,
            "verdict": _verdict(summary, cases, failures, oracles),
            "failures": _failures(failures, cases, oracles),
            "environment": list((results.get("environment") or {}).items()),
            "tolerances": [dict(t, used=t.get("dtype") == dtype and t.get("oracle") in oracles)
                           for t in results.get("tolerances") or []],
            "matrix": _matrix(cases, losses, acts, oracles),
            "depth": _depth(cases, oracles, colours),
            "histograms": _histograms(cases, oracles, colours),
            "not_judged": _not_judged(summary, cases, oracles, acts),
            "passing": _passing(cases, losses, summary)}


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(pathlib.Path(__file__).with_name("templates")),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_ENV.filters.update(err=fmt_err, val=fmt_val, plain=plain)


def render(results: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML document."""
    return _ENV.get_template("report.html").render(**context(results))


def write(results: Mapping[str, Any], path: str | pathlib.Path) -> pathlib.Path:
    """Render the report into ``path`` (parents created) and return the path."""
    out = pathlib.Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results), encoding="utf-8")
    return out

