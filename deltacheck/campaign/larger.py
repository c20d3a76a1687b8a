"""Evidence that survives shrinking: the minimal failing case beside the run's first, larger
failing case of the same slice.

Shrinking keeps a failure, not its kind: with K = 2 softmax outputs every row of y − t is
(u, −u), so any output slip reads as a factor; with N = 1 a slip in how samples are summed
cannot show. Where the two cases agree, the diagnosis says so; where the minimal case cannot
tell the kinds apart and the larger one (more samples and outputs) names another kind at the
same quantity, that kind is reported, with both; any other disagreement is said beside the
minimal case's kind.
"""

from __future__ import annotations

from typing import Any

from deltacheck.diagnosis import diagnosed
from deltacheck.judging.check import CaseResult

RUN_KINDS = ("stateful", "nondeterministic", "aliasing")


def shape_text(result: CaseResult) -> str:
    case = result.case
    return f"N = {case.batch}, widths {'-'.join(map(str, case.widths))}"


def ambiguity(result: CaseResult, kind: str, q: str | None) -> str:
    """Why the minimal case cannot tell ``kind`` from another one, or ""."""
    case = result.case
    if q == "output_delta" and kind in ("factor", "sign") and case.widths[-1] == 2 and \
            case.loss == "ce":
        return "with K = 2 softmax outputs every row of y − t is (u, −u): any output slip " \
               "is a multiple of it row by row"
    if q == "output_delta" and kind in ("factor", "sign") and case.batch == 1 and \
            case.widths[-1] == 1:
        return "one sample and one output: any wrong value is a multiple of the right one"
    if case.batch == 1 and kind in ("assembly", "factor", "sign", "output_error", "unknown"):
        return "with one sample, a slip in how samples are paired or summed cannot show"
    return ""


def survive(minimal: CaseResult, larger: CaseResult | None) -> CaseResult:
    """The minimal case's diagnosis, checked against the larger failing case's."""
    d = minimal.diagnosis
    if larger is None or d is None or larger.case is minimal.case or d.get("kind") in RUN_KINDS:
        return minimal
    big = diagnosed(larger).diagnosis
    if big is None:
        return minimal
    d = dict(d)
    kind, q = str(d.get("kind")), (d.get("first_wrong") or {}).get("q")
    big_kind, big_q = big.get("kind"), (big.get("first_wrong") or {}).get("q")
    if big_kind == kind:
        d["detail"] += f"; the run's larger failing case ({shape_text(larger)}) agrees"
    elif big_q == q and big_kind not in RUN_KINDS and ambiguity(minimal, kind, q) and \
            "the other samples are right" not in big.get("detail", ""):
        # (some rows wrong and others right says where a slip shows, not that it is one in
        # how samples are paired or summed: such a larger case cannot overrule)
        d["kind"] = big_kind
        d["detail"] = (f"{big['detail']} (on the run's larger failing case, "
                       f"{shape_text(larger)}; the minimal case, {shape_text(minimal)}, reads "
                       f"as {kind}: {ambiguity(minimal, kind, q)})")
    else:
        d["detail"] += (f"; the run's larger failing case ({shape_text(larger)}) reads as "
                        f"{big_kind} at {big.get('where')}")
    minimal.diagnosis = d
    return minimal


def _size(result: CaseResult) -> tuple[int, int, int]:
    case = result.case
    return min(case.batch, 3) + min(case.widths[-1], 3), case.batch, sum(case.widths)


def first_failing(state: dict[str, Any], result: CaseResult) -> None:
    """Remember the largest failing case a shrinking run meets (most samples and outputs, up
    to 3 of each, then the most of all): Hypothesis may try the smallest case first."""
    if result.verdict != "fail":
        return
    kept = state.get("first")
    if kept is None or _size(result) > _size(kept):
        state["first"] = result


def relabel(outcomes: Any, slices: Any) -> None:
    """Once a loss's minimal case shows that its failure depends on earlier calls or on
    chance, the other failing cases of that loss claim no other symptom: their diagnosis
    takes the minimal case's kind (the symptom each showed is only what the history gave)."""
    found: dict[str, dict[str, Any]] = {}
    by_index = {piece.index: piece for piece in slices}  # a shard's, an interrupted run's
    pairs = [(o, by_index[o.index]) for o in outcomes if o.index in by_index]
    for outcome, piece in pairs:
        for result in outcome.minimal:
            if (result.diagnosis or {}).get("kind") in ("stateful", "nondeterministic"):
                found[piece.loss] = result.diagnosis
    for outcome, piece in pairs:
        shown = found.get(piece.loss)
        if shown is None:
            continue
        for item in (*outcome.records, *outcome.failures):
            d = item.get("diagnosis")
            if not d or d is shown or item.get("minimal") or item.get("phase") == "minimal":
                continue
            item["diagnosis"] = {**d, "kind": shown["kind"]}
            if "detail" in d:
                item["diagnosis"]["detail"] = (f"as the minimal {piece.loss} case shows: "
                                               f"{shown['detail']}")
