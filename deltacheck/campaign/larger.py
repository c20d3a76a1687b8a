"""Evidence that survives shrinking: the minimal failing case beside the run's first, larger
failing case of the same slice.

Shrinking keeps a failure, not its kind: with K = 2 softmax outputs every row of y − t is
(u, −u), so any output slip reads as a factor; with N = 1 a slip in how samples are summed
cannot show. Where the two cases agree, the diagnosis says so; where the minimal case cannot
tell the kinds apart and the larger one (more samples and outputs) names another kind at the
same quantity, that kind is reported, with both; any other disagreement is said beside the
minimal case's kind. Where the run met no larger case that settles it, the minimal case is
grown (three samples, three softmax outputs: ``grown``) and checked once more.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from deltacheck.core.case import Case
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
    layer = ((result.diagnosis or {}).get("first_wrong") or {}).get("layer")
    if q == "hidden_delta" and kind == "activation_derivative" and layer is not None and \
            case.batch * case.widths[layer + 1] == 1:
        return "one entry of δ: a single h′ cannot show whether float32 arithmetic or a wrong " \
               "constant made it"
    if case.batch == 1 and kind in ("assembly", "factor", "sign", "output_error", "unknown"):
        return "with one sample, a slip in how samples are paired or summed cannot show"
    return ""


def survive(minimal: CaseResult, larger: CaseResult | None,
            name: str = "the run's larger failing case") -> CaseResult:
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
        d["detail"] += f"; {name} ({shape_text(larger)}) agrees"
    elif big_q == q and big_kind not in RUN_KINDS and ambiguity(minimal, kind, q) and \
            "the other samples are right" not in big.get("detail", ""):
        # (some rows wrong and others right says where a slip shows, not that it is one in
        # how samples are paired or summed: such a larger case cannot overrule)
        d["kind"] = big_kind
        d["detail"] = (f"{big['detail']} (on {name}, "
                       f"{shape_text(larger)}; the minimal case, {shape_text(minimal)}, reads "
                       f"as {kind}: {ambiguity(minimal, kind, q)})")
    else:
        d["detail"] += (f"; {name} ({shape_text(larger)}) reads as "
                        f"{big_kind} at {big.get('where')}")
    minimal.diagnosis = d
    return minimal


def unsettled(result: CaseResult) -> bool:
    """Whether the diagnosis still cannot tell its kind from another on the cases it saw."""
    d = result.diagnosis or {}
    kind, q = str(d.get("kind")), (d.get("first_wrong") or {}).get("q")
    return kind not in RUN_KINDS and bool(ambiguity(result, kind, q)) and \
        "reads as" not in d.get("detail", "")  # a larger case that disagreed is said already


def grown(case: Case, samples: int = 3) -> Case | None:
    """The minimal case with ``samples`` samples and, for a softmax, three outputs: its entries
    kept, the new ones drawn (seeded by the case), so that the kinds it could not tell apart
    show; None where there is nothing to grow."""
    N, K = case.batch, case.widths[-1]
    grow_k = case.loss == "ce" and K == 2
    if N >= samples and not grow_k:
        return None
    rng = np.random.default_rng(N * 1000 + K)
    weights, biases, t = list(case.weights), list(case.biases), case.t
    if grow_k:  # a third class, never the target: one-hot rows stay one-hot
        scale = float(np.abs(weights[-1]).max(initial=0.0)) or 1.0
        weights[-1] = np.vstack([weights[-1], scale * rng.normal(size=(1, case.widths[-2]))])
        biases[-1] = np.append(biases[-1], 0.0)
        t = np.hstack([t, np.zeros((N, 1))])
    x = case.x
    if N < samples:  # new samples: inputs drawn at the scale of the old, targets rolled or drawn
        more = samples - N
        x = np.vstack([x, max(1.0, float(np.abs(x).max(initial=0.0)))
                       * rng.normal(size=(more, x.shape[1]))])
        if case.loss == "ce":
            extra = np.stack([np.roll(t[0], k + 1) for k in range(more)])
        elif case.loss == "mse":
            extra = rng.normal(size=(more, t.shape[1]))
        else:  # targets in [0, 1], or [−1, 1] for a tanh output
            low = -1.0 if case.loss == "mse_tanh" else 0.0
            extra = rng.uniform(low, 1.0, size=(more, t.shape[1]))
        t = np.vstack([t, extra])
    widths = (*case.widths[:-1], weights[-1].shape[0])
    return replace(case, widths=widths, weights=tuple(weights), biases=tuple(biases), x=x, t=t)


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
