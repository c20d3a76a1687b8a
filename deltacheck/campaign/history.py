"""Whether a failing case's verdict depends on earlier calls, or on chance.

A minimal or replayed failing case is checked again: in this process right away, after a call
on another case of the same shapes, and after one of other shapes; and, where the
implementation can be imported by name, as the first call of a fresh process (twice, in two
processes, when that passes: a deterministic pass there and a failure here mean the result
depends on earlier calls). Verdicts that differ make the kind ``stateful`` (a fresh process
passes, every re-check here fails) or ``nondeterministic`` (the re-checks disagree), with
how many re-checks agreed; no other symptom is then claimed.

A stateful failure passes when its case is replayed alone, so the calls that make it show
are looked for too, each tried in a fresh process (the process's first case, one of the same
shapes, one of other shapes): the first sequence that fails there is what its reproduce
command replays (``before``).
"""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from deltacheck.core.case import Case
from deltacheck.core.gradients import Gradients
from deltacheck.core.verdicts import PASS, worst
from deltacheck.judging.calling import call
from deltacheck.judging.check import CaseResult, same_shapes, set_aside
from deltacheck.judging.compare import compare_all

FRESH_TIMEOUT = 120.0  # seconds a fresh process may take (its imports included)
_FRESH = """
import pickle, sys
from deltacheck.core.loading import load_activation, load_implementation
from deltacheck.core.activations import registered
from deltacheck.judging.calling import call
cases, conventions, spec, acts = pickle.load(open(sys.argv[1], "rb"))
impl = load_implementation(spec)
with registered([load_activation(a) for a in acts]):
    for case in cases:  # the calls before the case, then the case
        got = call(case, impl, conventions)[0]
pickle.dump(got, open(sys.argv[2], "wb"))
"""


def other_values(case: Case) -> Case:
    """A case of the same shapes with other inputs (x moved by a quarter)."""
    return same_shapes(case)


def other_shapes(case: Case) -> Case:
    """A case with one more sample (the first repeated)."""
    x, t = np.asarray(case.x), np.asarray(case.t)
    return dataclasses.replace(case, x=np.concatenate([x, x[:1]]), t=np.concatenate([t, t[:1]]))


# What the implementation is called on just before each re-check of the case.
BEFORE = {"right after itself": lambda case: case,
          "right after a case of the same shapes": lambda case: other_values(case),
          "right after a case of other shapes": lambda case: other_shapes(case)}


def fresh_values(config: Any, case: Case, before: tuple[Case, ...] = ()) -> Gradients | None:
    """The implementation's values on ``case`` as the first call of a fresh process (after
    calls on ``before``), or None when it cannot be imported by name there (or the process
    fails)."""
    spec = getattr(config, "impl_spec", "") or ""
    if ":" not in spec:
        return None
    with tempfile.TemporaryDirectory() as folder:
        given, got = Path(folder) / "in.pickle", Path(folder) / "out.pickle"
        with open(given, "wb") as fh:
            pickle.dump(([*before, case], config.conventions, spec,
                         list(config.user_activations)), fh)
        try:
            done = subprocess.run([sys.executable, "-c", _FRESH, str(given), str(got)],
                                  capture_output=True, timeout=FRESH_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0 or not got.exists():
            return None
        with open(got, "rb") as fh:
            values = pickle.load(fh)
    return values if isinstance(values, Gradients) else None


def verdict_of(result: CaseResult, values: Gradients) -> str:
    """The verdict these values get against the oracles the result was judged with."""
    if result.forward is None or not result.oracle_values:
        return "fail"
    compared = compare_all(result.case, values, result.oracle_values, forward=result.forward)
    return worst([set_aside(r, result.conventions.provides, result.checks).verdict
                  for r in compared.values()])


def _same(u: Gradients | None, v: Gradients | None) -> bool:
    if u is None or v is None:
        return False
    pairs = [(u.loss, v.loss)] + [(p, q) for k in ("deltas", "grad_weights", "grad_biases")
                                  for p, q in zip(u.quantity(k), v.quantity(k), strict=True)]
    return all(np.array_equal(p, q, equal_nan=True) for p, q in pairs)


REPEATS = 4  # each re-check is made this many times: chance rarely repeats itself bit for bit
CONFIRM = 12  # and this many more before a pattern is called "the same way every time"


def recheck(config: Any, result: CaseResult, first: Case | None = None) -> dict[str, Any]:
    """Re-check a failing case; ``{"kind", "detail", "verdicts"}``, the kind None when every
    re-check agrees with the failure. A stateful one also gets ``before``, the calls that make
    it fail in a fresh process, where found (``first``: the process's first case)."""
    out = _recheck(config, result)
    if out["kind"] == "stateful":
        out["before"] = sequence(config, result, first)
    return out


def sequence(config: Any, result: CaseResult, first: Case | None) -> tuple[Case, ...]:
    """The calls (one) after which the case fails as it did, in a fresh process; () if none
    does or the implementation cannot be imported by name."""
    case = result.case
    candidates = [first] if first is not None and first is not case else []
    candidates += [other_values(case), other_shapes(case)]
    for before in candidates:
        values = fresh_values(config, case, (before,))
        if values is None:
            return ()
        if verdict_of(result, values) != PASS:
            return (before,)
    return ()


def _rounds(config: Any, case: Case, repeats: int) -> dict[str, list[Gradients | None]]:
    """The case's values ``repeats`` times right after each call of ``BEFORE``."""
    conventions, limit = config.conventions, config.case_timeout
    runs: dict[str, list[Gradients | None]] = {label: [] for label in BEFORE}
    for _ in range(repeats):
        for label, before in BEFORE.items():
            call(before(case), config.impl, conventions, timeout=limit)
            runs[label].append(call(case, config.impl, conventions, timeout=limit)[0])
    return runs


def _steady(runs: dict[str, list[Gradients | None]], verdicts: dict[str, list[str]]) -> bool:
    """Whether each re-check gave the same values and verdict every time after its call."""
    return (all(_same(v[0], w) for v in runs.values() for w in v[1:])
            and all(len(set(v)) == 1 for v in verdicts.values()))


def _recheck(config: Any, result: CaseResult) -> dict[str, Any]:
    case = result.case
    runs = _rounds(config, case, REPEATS)

    def judged() -> dict[str, list[str]]:
        return {label: [PASS if v is not None and verdict_of(result, v) == PASS else "fail"
                        for v in values] for label, values in runs.items()}

    verdicts = judged()
    if _steady(runs, verdicts) and any(v == PASS for vs in verdicts.values() for v in vs):
        # a pass here may be chance (a failure on a third of the calls passes all 12
        # re-checks once in 70 tries): a longer round confirms it before it is called steady
        for label, values in _rounds(config, case, CONFIRM).items():
            runs[label] += values
        verdicts = judged()
    said = {label: _count(v) for label, v in verdicts.items()}
    out: dict[str, Any] = {"kind": None, "detail": "", "verdicts": said}
    flat = [v for vs in verdicts.values() for v in vs]
    failed = sum(v != PASS for v in flat)
    if failed < len(flat):
        text = "; ".join(f"{label}: {said[label]}" for label in BEFORE)
        if _steady(runs, verdicts):
            out["kind"] = "stateful"
            out["detail"] = (f"the result depends on earlier calls, the same way every time "
                             f"({text}; each {REPEATS + CONFIRM} times, bit for bit)")
        else:
            out["kind"] = "nondeterministic"
            out["detail"] = (f"the failure does not reproduce: {failed} of {len(flat)} "
                             f"re-checks of the same case fail ({text})")
        return out
    first = fresh_values(config, case)
    if first is not None:
        out["verdicts"]["first call of a fresh process"] = verdict_of(result, first)
    if first is None or verdict_of(result, first) != PASS:
        differ = sum(not _same(v[0], w) for v in runs.values() for w in v[1:])
        if differ:  # every re-check fails, but not the same way after the same call
            out["kind"] = "nondeterministic"
            out["detail"] = (f"the same case, right after the same call, returns different "
                             f"values ({differ} of {len(flat) - len(runs)} repeats differ); "
                             f"all {len(flat)} re-checks fail")
        return out
    second = fresh_values(config, case)
    if not _same(first, second):
        out["kind"] = "nondeterministic"
        out["detail"] = (f"the first calls of two fresh processes on this case return different "
                         f"values; all {len(flat)} re-checks here fail")
        return out
    out["kind"] = "stateful"
    out["detail"] = (f"the result depends on earlier calls: this case passes as the first call "
                     f"of a fresh process (twice, bit for bit), and fails here after the run's "
                     f"earlier calls ({len(flat)} of {len(flat)} re-checks, also right after a "
                     f"case of the same and of other shapes)")
    return out


def _count(verdicts: list[str]) -> str:
    failed = sum(v != PASS for v in verdicts)
    return f"{failed} of {len(verdicts)} fail"


def apply(result: CaseResult, found: dict[str, Any]) -> CaseResult:
    """The result with its diagnosis replaced by the history's kind, when there is one: no
    other symptom is claimed."""
    if found.get("kind") is None or result.diagnosis is None:
        return result
    d = dict(result.diagnosis)
    d["kind"], d["detail"] = found["kind"], found["detail"]
    d["rechecks"] = found["verdicts"]
    if found.get("before"):  # what its reproduce command replays first
        d["before"] = [case.to_json() for case in found["before"]]
        d["detail"] += (f"; it fails in a fresh process after {len(found['before'])} earlier "
                        f"call, which its reproduce command replays first")
    result.diagnosis = d
    return result
