"""The failures section: each failing case in full, minimal ones first, later ones folded.

A failing run can list many cases; past ``OPEN_FAILURES`` they are folded into one closed
``<details>`` per diagnosis kind (factor, activation_derivative, ...), each failure inside
folded to its message, so the sections after the failures stay a short scroll away.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deltacheck.reports import svg
from deltacheck.reports.common import (
    ERROR,
    FAIL,
    NOT_JUDGED,
    arch,
    arch_text,
    count,
    fmt_err,
    fmt_val,
    grade,
    label,
)
from deltacheck.reports.values import find_quantity, side_by_side
from deltacheck.results.reading import line_of

OUTPUT_ACTIVATION = {"mse": "identity", "bce": "sigmoid", "ce": "softmax"}
MAX_FULL_FAILURES = 20  # the JSON holds every failure; past this the page lists them compactly
OPEN_FAILURES = 3  # shown open; the others are folded to their message (minimal ones never are)
MAX_LISTED = 200  # rows of further failing cases, so a broken run still gives a small page


def _quantity_keys(results: Mapping[str, Any], oracles: list[str]) -> list[tuple[str, Any]]:
    keys: dict[tuple[str, Any], None] = {}
    for o in oracles:
        keys.update(((qd.get("q"), qd.get("layer")), None)
                    for qd in (results.get(o) or {}).get("quantities") or [])
    return list(keys)


def _cell(oracle: str, result: Mapping[str, Any], q: str, layer: Any) -> dict[str, str]:
    """One oracle's judged error of one quantity, with every measure in its tooltip."""
    qd = find_quantity(result, q, layer)
    if not qd:
        return {"text": "—", "cls": "none", "tip": f"{oracle} {label(q, layer)}: missing"}
    v = qd.get("verdict", "")
    n = count(qd.get("unresolved", 0))
    tip = (f"{oracle} {label(q, layer)}: {v}; err {fmt_err(qd.get('err'))}, "
           f"max abs {fmt_err(qd.get('abs'))}, max rel {fmt_err(qd.get('rel'))}, "
           f"normwise {fmt_err(qd.get('norm'))}; {qd.get('judged', 0)} judged"
           + (f" ({n} unresolved)" if n else "")
           + f", {qd.get('not_judged', 0)} not judged")
    if v in ("not provided", "not checked"):  # out of the verdict: no error to grade
        return {"text": v, "tip": f"{oracle} {label(q, layer)}: {v}", "cls": "nj"}
    return {"text": "n.j." if v == NOT_JUDGED else fmt_err(qd.get("err")), "tip": tip,
            "cls": grade(qd.get("err"), result.get("rtol"), v)}


def _quantity_rows(results: Mapping[str, Any], oracles: list[str]) -> list[dict[str, Any]]:
    """One row per quantity (E, δ[0], …) with each oracle's cell, and whether any failed."""
    rows = []
    for q, layer in _quantity_keys(results, oracles):
        cells = [_cell(o, results.get(o) or {}, q, layer) for o in oracles]
        rows.append({"q": q, "layer": layer, "label": label(q, layer), "cells": cells,
                     "failed": any(c["cls"] == "bad" for c in cells)})
    return rows


def _failure(f: Mapping[str, Any], oracles: list[str], index: int) -> dict[str, Any]:
    case, results = f.get("case") or {}, f.get("oracles") or {}
    a = arch(case)
    names = [o for o in oracles if o in results] + [o for o in results if o not in oracles]
    rows = _quantity_rows(results, names)
    output = OUTPUT_ACTIVATION.get(a["loss"], a["loss"])
    drawable = a["widths"] and all(isinstance(n, int) for n in a["widths"])
    minimal = bool(f.get("minimal"))
    diagnosis = _diagnosis(f.get("diagnosis"))
    side = [side_by_side(r["q"], r["layer"], f, names) for r in rows if r["failed"]]
    for v, r in zip(side, [r for r in rows if r["failed"]], strict=True):
        v["at"] = _entry_text(diagnosis, r["q"], r["layer"]) if diagnosis else ""
    return {"id": f.get("id"), "anchor": f"failure-{index + 1}", "minimal": minimal,
            "open": minimal or index < OPEN_FAILURES,
            "message": f.get("message"), "repro": f.get("repro"), "arch": a, "output": output,
            "network": svg.network(a["widths"], ["input", *a["activations"], output])
            if drawable else None,
            "problem": f.get("impl_problem") or "", "traceback": f.get("impl_traceback") or "",
            "oracle_messages": [(o, r["message"]) for o, r in results.items()
                                if isinstance(r, Mapping) and r.get("message")],
            "oracles": names, "rows": rows, "diagnosis": diagnosis,
            "kind": diagnosis["kind"] if diagnosis else "no diagnosis", "side_by_side": side}


def _mark(verdict: Any) -> tuple[str, str]:
    """A verdict as a short word and its colour class."""
    return {"pass": ("right", "ok"), FAIL: ("wrong", "bad"), ERROR: ("wrong", "bad"),
            "not provided": ("not provided", "nj"), "not checked": ("not checked", "nj")}.get(
        verdict, ("n.j.", "nj"))


def _yes(ok: Any) -> tuple[str, str]:
    return ("yes", "ok") if ok else ("no", "bad")


def _grad(verdict: Any, from_own_delta: Any) -> tuple[str, str]:
    """∂W or ∂b against the truth, and whether it follows from the implementation's own δ."""
    word, cls = _mark(verdict)
    return f"{word} · own δ {'✓' if from_own_delta else '✗'}", cls


def _diagnosis(d: Any) -> dict[str, Any] | None:
    """The diagnosis box: kind, where, detail, the per-layer checks and the worst δ entry."""
    if not isinstance(d, Mapping):
        return None
    rows = []
    for r in d.get("layers") or []:
        hidden = r.get("role") == "hidden"
        ratio = r.get("implied_over_true")
        rows.append({
            "layer": r.get("layer"), "activation": r.get("activation"),
            "role": r.get("role"), "delta": _mark(r.get("delta")),
            "recurrence": _yes(r.get("recurrence_ok")) if hidden else ("—", "none"),
            "ratio": fmt_val(ratio) if hidden and ratio is not None else "—",
            "explained": r.get("explained_by") or "",
            "grad_weights": _grad(r.get("grad_weights"), r.get("grad_weights_from_own_delta")),
            "grad_biases": _grad(r.get("grad_biases"), r.get("grad_biases_from_own_delta")),
            "worst": r.get("worst")})
    return {"kind": str(d.get("kind")), "where": str(d.get("where") or ""),
            "detail": str(d.get("detail") or ""), "line": line_of(d),
            "truth": d.get("truth"), "layers": rows,
            "worst": _entry_text({"layers": rows}, "deltas", (d.get("worst_delta") or {})
                                 .get("layer"))}


def _entry_text(diagnosis: Mapping[str, Any], q: str, layer: Any) -> str:
    """At the worst entry of a failing δ: its a, h'(a) and the implementation's implied h'."""
    if q != "deltas" or layer is None:
        return ""
    row = next((r for r in diagnosis.get("layers") or [] if r.get("layer") == layer), None)
    w = (row or {}).get("worst")
    if not w:
        return ""
    n, j = (w.get("entry") or [0, 0])[:2]
    text = f"At δ[{layer}][{n}, {j}]: a = {fmt_val(w.get('a'))}"
    if "h_prime" in w:
        implied = w.get("implied_h_prime")
        text += (f", h'(a) = {fmt_val(w.get('h_prime'))} (central differences of h), the "
                 f"implementation's implied h' = "
                 f"{fmt_val(implied) if implied is not None else '— (Σ w δ is 0)'}")
    else:
        text += f", y = {fmt_val(w.get('y'))}, t = {fmt_val(w.get('t'))}"
    return text


def section(records: list[dict], cases: list[dict], oracles: list[str]) -> dict[str, Any]:
    """Failures in full (minimal first), further ones by message, and other failing cases."""
    ordered = sorted(records, key=lambda f: not f.get("minimal"))  # stable: minimal first
    listed = {f.get("id") for f in records}
    others = [c for c in cases if c.get("verdict") in (FAIL, ERROR) and c.get("id") not in listed]
    full = [_failure(f, oracles, i) for i, f in enumerate(ordered[:MAX_FULL_FAILURES])]
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in full:
        if not f["open"]:
            groups.setdefault(f["kind"], []).append(f)
    return {"full": full, "shown": [f for f in full if f["open"]],
            "groups": [{"kind": k, "failures": v} for k, v in groups.items()],
            "folded": sum(not f["open"] for f in full),
            "more": [{"id": f.get("id"), "message": f.get("message"), "repro": f.get("repro"),
                      "diagnosis": line_of(f.get("diagnosis") if isinstance(
                          f.get("diagnosis"), Mapping) else None)}
                     for f in ordered[MAX_FULL_FAILURES:]],
            "others": [{"id": c.get("id"), "phase": c.get("phase"), "arch": arch_text(c),
                        "message": c.get("message") or "", "problem": c.get("problem") or ""}
                       for c in others[:MAX_LISTED]],
            "others_left": max(0, len(others) - MAX_LISTED)}


def anchor_of(message: Any, shown: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The shown failure whose message is ``message``, a minimal one if several are."""
    same = [f for f in shown if message and f["message"] == message]
    return next((f for f in same if f["minimal"]), same[0] if same else None)
