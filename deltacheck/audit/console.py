"""What ``deltacheck audit`` prints: one line per check, then one verdict line."""

from __future__ import annotations

import math
from typing import Any

from deltacheck.core.words import plural


def _v(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    return f"{x:.10g}"


def _interval(iv: Any) -> str:
    if iv is None:
        return "not finite at 0"
    return f"[{iv[0]:.6g}, {iv[1]:.6g}]"


def _err(x: Any) -> str:
    return x if isinstance(x, str) else f"{x:.2g}"


def derivative_line(d: dict[str, Any]) -> str:
    """Check 1: points, the worst point with every oracle's value, and its error."""
    w = d["worst"]
    if not d["points"]:  # the check stopped before judging
        return d["message"]
    values = ", ".join(f"{o} {_v(w.get(o))}" for o in ("torch", "jax", "fd") if w.get(o) is not None)
    line = (f"{d['points']} points; worst a = {w['a']:.6g}: dh {_v(w['dh'])}, {values} "
            f"({w['oracle']} err {_err(w['err'])}, tol {w['rtol']:.0e})")
    beyond = d.get("worst_beyond") or []
    if beyond:
        line += "; beyond ±20: " + ", ".join(f"dh({p['a']:.6g}) = {_v(p['dh'])} ({p['oracle']} "
                                            f"{_v(p.get(p['oracle']))})" for p in beyond)
    for why, n in (d.get("widened") or {}).items():
        line += f"; {plural(n, 'point')} judged to the widest error bar ({why})"
    if d["verdict"] != "pass":
        bands = ", ".join(f"[{lo:.6g}, {hi:.6g}]" for lo, hi in d["failing_ranges"][:4])
        line += f"; {d['failing_points']} points fail" + (f", in {bands}" if bands else "")
        if d["message"]:
            line += f"\n{' ' * 18}{d['message']}"
    return line


def kinks_line(k: dict[str, Any]) -> str:
    """Check 2: the declared and found kinks, and dh, torch and jax at each."""
    def names(v: list[float]) -> str:
        return ", ".join(f"{x:g}" for x in v) or "none"

    line = f"declared: {names(k['declared'])}; found: {names(k['found'])}"
    for row in k["at"]:
        line += (f"\n{' ' * 18}at {row['a']:g}: slopes {_v(row['left'])} | {_v(row['right'])}; "
                 f"dh {_v(row['dh'])}, torch {_v(row.get('torch'))}, jax {_v(row.get('jax'))}")
    for w in k["warnings"]:
        line += f"\n{' ' * 18}warning: {w}"
    return line


def frameworks_line(f: dict[str, Any]) -> str:
    """Check 3: agreement per framework, or what went wrong."""
    parts = []
    for name in ("numpy", "torch", "jax"):
        r = f.get(name)
        if r is None:
            continue
        if name == "numpy" and r["verdict"] == "pass":
            continue
        if r["verdict"] == "pass":
            worst = max((e for e in r["err"].values() if not isinstance(e, str)), default=0.0)
            what = "h agrees with numpy; dh numpy only" if r.get("numpy_only") else \
                "agrees with numpy"
            parts.append(f"{name} {what} (worst err {worst:.2g})")
        else:
            parts.append(f"{name}: {r['message']}")
    left_out = [name for name in ("torch", "jax") if name not in f]
    if left_out:
        parts.append(f"{', '.join(left_out)} not checked (left out with --oracles)")
    return "; ".join(parts)


def range_line(r: dict[str, Any]) -> str:
    """Check 4: the finite intervals per dtype."""
    def one(dt: str, key: str) -> str:
        why = r[dt].get("detail", {}).get(key, {}).get("message")
        return f"{key} {why}" if why else f"{key} {_interval(r[dt][key])}"

    return "; ".join(f"{dt} {one(dt, 'h')}, {one(dt, 'dh')}" for dt in ("float64", "float32"))


def networks_line(n: dict[str, Any]) -> str:
    """Check 5: cases, what they held, and the first disagreement."""
    if n["verdict"] == "not run":
        return n.get("message", "not run")
    line = (f"{plural(n['cases'], 'case')} ({', '.join(n['activations'])}; {', '.join(n['losses'])}; "
            f"{', '.join(n['oracles'])}), {n['failed_cases']} failed")
    for m in n["minimal"][:3]:
        line += f"\n{' ' * 18}{m['message']}\n{' ' * 18}reproduce: {m['repro']}"
    if n["failed_cases"] and not n["minimal"] and n["first_disagreement"]:
        line += f"\n{' ' * 18}{n['first_disagreement']}"
    return line


def lines(doc: dict[str, Any]) -> list[str]:
    """Every activation's check lines."""
    out = []
    for r in doc["activations"]:
        out.append(f"{r['name']} ({r['spec']}): {r['verdict'].upper()} "
                   f"({r['wall_time_s']:.1f} s)")
        rows = (("derivative", r["derivative"]["verdict"], derivative_line(r["derivative"])),
                ("kinks", r["kinks"]["verdict"], kinks_line(r["kinks"])),
                ("frameworks", r["frameworks"]["verdict"], frameworks_line(r["frameworks"])),
                ("range", "info", range_line(r["finite"])),
                ("networks", r["networks"]["verdict"], networks_line(r["networks"])))
        out += [f"  {name:<10} {verdict:<5} {text}" for name, verdict, text in rows]
    return out


def first_failure(r: dict[str, Any]) -> str:
    """The first failing check of an activation, in one line."""
    for check in ("derivative", "frameworks", "networks"):
        c = r[check]
        if c["verdict"] != "pass":
            if check == "derivative":
                why = c["message"]
            elif check == "frameworks":
                why = "; ".join(f"{k}: {v['message']}" for k, v in c.items()
                                if isinstance(v, dict) and v.get("verdict") == "fail")
            else:
                why = c.get("first_disagreement") or c.get("message") or ""
            return f"{check}: {why}".splitlines()[0]
    return ""


def verdict_line(doc: dict[str, Any]) -> str:
    """The last line: every activation passes, or the first failure."""
    acts = doc["activations"]
    failed = [r for r in acts if r["verdict"] != "pass"]
    if not failed:
        names = ", ".join(r["name"] for r in acts)
        return f"all pass: {names} (derivative, frameworks, networks)"
    first = failed[0]
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return f"FAIL {first['name']}{more}: {first_failure(first)}"


def seconds(doc: dict[str, Any]) -> str:
    """The seed and time line."""
    t = doc["run"]["wall_time_s"]
    return f"seed:   {doc['run']['seed']} ({t:.1f} s)" if math.isfinite(t) else ""
