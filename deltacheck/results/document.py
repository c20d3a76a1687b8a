"""The machine-readable results of a run: environment, tolerances, every case, the summary.

The schema (``deltacheck-results/1``) is documented in docs/schemas.md; the HTML report and the
JUnit XML are both rendered from this one dictionary.
"""

from __future__ import annotations

import importlib.metadata
import math
import platform
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from deltacheck.core import tolerances
from deltacheck.core.case import LOSSES
from deltacheck.core.gradients import QUANTITIES, Gradients
from deltacheck.core.verdicts import (
    ERROR,
    FAIL,
    INTERRUPTED,
    NOT_CHECKED,
    NOT_JUDGED,
    NOT_PROVIDED,
    PASS,
    worst,
)
from deltacheck.judging.check import CaseResult
from deltacheck.judging.compare import OracleResult, json_number
from deltacheck.results.groups import failure_groups

SCHEMA = "deltacheck-results/1"


def version_of(dist: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment(dtype: str, seed: int | None = None, profile: str | None = None) -> dict[str, Any]:
    """Versions of everything that computes, the x64 state, and the run's dtype, seed, profile."""
    x64 = None
    if "jax" in sys.modules:
        import jax

        # jax.config defines its flags as attributes at run time: no stub declares them
        x64 = {"global": bool(jax.config.jax_enable_x64),  # type: ignore[attr-defined]
               "jax oracle": "enabled per call with jax.enable_x64(True)"}
    return {"python": platform.python_version(), "platform": platform.platform(),
            "deltacheck": version_of("deltacheck"), "numpy": np.__version__,
            "torch": version_of("torch"), "jax": version_of("jax"), "jaxlib": version_of("jaxlib"),
            "hypothesis": version_of("hypothesis"), "jax_x64": x64, "dtype": dtype,
            "seed": seed, "profile": profile}


def values_json(g: Gradients | None) -> dict[str, Any] | None:
    """An implementation's or oracle's full values (for failures only: they are large)."""
    if g is None:
        return None

    def arr(v: np.ndarray) -> Any:
        return np.vectorize(json_number, otypes=[object])(np.asarray(v, dtype=float)).tolist()

    out: dict[str, Any] = {"loss": json_number(g.loss)}
    for key in QUANTITIES:
        out[key] = [arr(v) for v in g.quantity(key)]
    if g.unjudged:
        out["unjudged"] = {k: [np.asarray(m).tolist() for m in v] for k, v in g.unjudged.items()}
    return out


def _short(v: float) -> float | str | None:
    """An error to three significant digits: a passing case's errors are for charts only."""
    if type(v) is float and math.isfinite(v):  # the common case, without the general path
        return float(f"{v:.3g}")
    number = json_number(v)
    return float(f"{number:.3g}") if isinstance(number, float) else number


def oracle_json(r: OracleResult, *, compact: bool) -> dict[str, Any]:
    """One oracle's verdict on a case; ``compact`` keeps each quantity's error only.

    Compact records (every quantity passed or was not judged) hold ``errs``: the error of each
    quantity in the order E, δ[0..L−1], ∂W[0..L−1], ∂b[0..L−1], to three digits, null
    where nothing was judged, "not provided" where the implementation does not return it, and
    "not checked" where ``--checks`` leaves it out of the verdict.
    Full records hold ``quantities`` with every detail.
    """
    totals = {"judged": sum(q.judged for q in r.quantities),
              "unresolved": sum(q.unresolved for q in r.quantities)}
    if not compact:
        return {**r.to_json(), **totals}
    out: dict[str, Any] = {"verdict": r.verdict, "rtol": r.rtol, "err": json_number(r.err),
                           "not_judged": r.not_judged, **totals,
                           "errs": [None if q.verdict == NOT_JUDGED else
                                    str(q.verdict) if q.verdict in (NOT_PROVIDED, NOT_CHECKED) else
                                    _short(q.err) for q in r.quantities]}
    if r.message:
        out["message"] = r.message
    return out


def case_json(case_id: int, result: CaseResult, phase: str) -> dict[str, Any]:
    """The record of one case: its architecture and every verdict with its errors.

    A passing case is stored compactly (see ``oracle_json``); a failing one in full.
    """
    compact = result.verdict in (PASS, NOT_JUDGED) and not result.impl_problem
    rec: dict[str, Any] = {"id": case_id, "phase": phase, "arch": result.case.summary(),
                           "verdict": result.verdict,
                           "oracles": {n: oracle_json(r, compact=compact)
                                       for n, r in result.oracles.items()}}
    if result.impl_problem:
        rec["problem"] = result.impl_problem
    if result.nondeterministic:
        rec["nondeterministic"] = result.nondeterministic
    if result.verdict != PASS:
        rec["message"] = result.first_message()
    if result.diagnosis:  # every failing case, kept in full or not, says what went wrong
        rec["diagnosis"] = {k: result.diagnosis.get(k) for k in ("kind", "where", "first_wrong")}
    if result.timed_out is not None:
        rec["timed_out"] = result.timed_out
    if result.warnings:  # the implementation's, caught: where and how often
        rec["warnings"] = result.warnings
    return rec


def _allowed_json(result: Any) -> dict[str, Any]:
    """Per quantity, the largest |x − y| each entry was allowed: rtol s + u + floor."""
    out: dict[str, Any] = {}
    for q in result.quantities:
        if q.allowed is None:
            continue
        value = np.vectorize(json_number, otypes=[object])(q.allowed).tolist()
        if q.layer is None:
            out[q.quantity] = value
        else:
            out.setdefault(q.quantity, []).append(value)
    return out


def failure_json(case_id: int, result: CaseResult, *, minimal: bool, repro: str) -> dict[str, Any]:
    """A failure in full: the case, the implementation's values beside every oracle's."""
    values: dict[str, Any] = {"impl": values_json(result.impl_values)}
    for name, g in result.oracle_values.items():
        values[name] = values_json(g)
        if name in result.oracles and values[name] is not None:
            values[name]["allowed"] = _allowed_json(result.oracles[name])
    return {"id": case_id, "minimal": minimal, "message": result.first_message(),
            "repro": repro, "case": result.case.to_json(),
            "impl_problem": result.impl_problem, "impl_traceback": result.impl_traceback,
            "nondeterministic": result.nondeterministic, "values": values,
            "diagnosis": result.diagnosis, "timed_out": result.timed_out,
            "oracles": {n: oracle_json(r, compact=False) for n, r in result.oracles.items()}}


def _total(oracle: dict[str, Any], key: str) -> int:
    if key in oracle:
        return int(oracle[key])
    return sum(int(q.get(key, 0)) for q in oracle.get("quantities", []))


def summary(cases: Sequence[dict[str, Any]], oracle_names: Sequence[str],
            run: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Loss × oracle table, verdict, failure groups, case counts, first disagreement and
    not-judged counts.

    ``run`` (the document's run section) says how many cases were asked for, whether the run
    was interrupted (``run.shrink_steps`` counts the re-runs shrinking made, which are not
    cases; a merge adds up its shards'): an interrupted run without a failure
    has the verdict "interrupted", never "pass".
    """
    run = run or {}
    rows = []
    present = {c["arch"]["loss"] for c in cases}
    for loss in [name for name in LOSSES if name in present]:
        for oracle in oracle_names:
            recs = [c["oracles"][oracle] for c in cases
                    if c["arch"]["loss"] == loss and oracle in c["oracles"]]
            errs = [float(r["err"]) for r in recs]
            rows.append({"loss": loss, "oracle": oracle, "cases": len(recs),
                         "worst_err": json_number(max(errs, default=0.0)),
                         "verdict": worst([r["verdict"] for r in recs])})
    failed = [c for c in cases if c["verdict"] in (FAIL, ERROR)]
    judged = {o: sum(_total(c["oracles"][o], "judged") for c in cases if o in c["oracles"])
              for o in oracle_names}
    not_judged = {o: sum(c["oracles"][o]["not_judged"] for c in cases if o in c["oracles"])
                  for o in oracle_names}
    unresolved = {o: sum(_total(c["oracles"][o], "unresolved") for c in cases
                         if o in c["oracles"]) for o in oracle_names}
    # The first disagreement to name is the shrunk one: it is the easiest to read.
    first = next((c for c in failed if c["phase"] == "minimal"), failed[0] if failed else None)
    interrupted = bool(run.get("interrupted"))
    verdict = FAIL if failed else INTERRUPTED if interrupted else PASS if cases else NOT_JUDGED
    minimal = sum(c.get("phase") == "minimal" for c in cases)
    asked = int(run.get("asked", run.get("examples", len(cases) - minimal)) or 0)
    return {"verdict": verdict, "cases": len(cases), "failed_cases": len(failed),
            "asked": asked, "checked_of_asked": len(cases) - minimal, "minimal_cases": minimal,
            "interrupted": interrupted,
            "not_checked": max(0, asked - (len(cases) - minimal)),
            "groups": failure_groups(failed), "warnings": warnings_summary(cases),
            "first_disagreement": first["message"] if first else None,
            "by_loss_oracle": rows, "judged_entries": judged, "not_judged_entries": not_judged,
            "unresolved_entries": unresolved}


def warnings_summary(cases: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The implementation's warnings over the run: one entry per distinct warning, with its
    count, the number of cases it came in and the case where it first occurred."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for c in cases:
        for w in c.get("warnings") or []:
            key = (w["category"], w["message"], w["where"])
            entry = found.setdefault(key, {**w, "count": 0, "cases": 0,
                                           "first_case": c["id"]})
            entry["count"] += w["count"]
            entry["cases"] += 1
    return sorted(found.values(), key=lambda w: (-w["count"], w["first_case"]))


def document(*, run: dict[str, Any], cases: Sequence[dict[str, Any]],
             failures: Sequence[dict[str, Any]], oracle_names: Sequence[str],
             dtype: str) -> dict[str, Any]:
    """The whole results document."""
    return {"schema": SCHEMA,
            "environment": environment(dtype, run.get("seed"), run.get("profile")), "run": run,
            "tolerances": tolerances.as_dicts(),
            "summary": summary(cases, oracle_names, run), "failures": list(failures),
            "cases": list(cases)}
