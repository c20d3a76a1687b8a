"""Tables over all cases: the verdict, the worst-error matrix, not-judged and passing counts."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from deltacheck.core.verdicts import INTERRUPTED, UNRESOLVED_WORD
from deltacheck.core.words import plural
from deltacheck.reports.common import (
    ERROR,
    FAIL,
    NO_HIDDEN,
    NOT_JUDGED,
    PASS,
    arch,
    count,
    fmt_err,
    grade,
    num,
    rank,
    unresolved,
    verdict_class,
)
from deltacheck.reports.failures import anchor_of
from deltacheck.results.groups import groups_text
from deltacheck.results.reading import OUTPUT_COLUMN, attributed_to


def unresolved_by_oracle(summary: Mapping[str, Any], cases: list[dict],
                         oracles: list[str]) -> dict[str, int]:
    """Unresolved entries per oracle (judged only to its error bar); 0 in older files."""
    given = summary.get("unresolved_entries")
    if isinstance(given, Mapping):
        return {o: count(given.get(o, 0)) for o in oracles}
    return {o: sum(unresolved((c.get("oracles") or {}).get(o, {}).get("quantities") or [])
                   for c in cases) for o in oracles}


def verdict(summary: Mapping[str, Any], cases: list[dict], failures: list[dict],
            oracles: list[str], shown: list[dict[str, Any]]) -> dict[str, Any]:
    """Headline, one-line detail, the first disagreement and the summary cards."""
    failing = [c for c in cases if c.get("verdict") in (FAIL, ERROR)]
    n_failed = max(count(summary.get("failed_cases", 0)), len(failing))
    v = summary.get("verdict", FAIL if failing else (PASS if cases else NOT_JUDGED))
    # A report must never say "all agree" beside a listed failure, whatever the summary says.
    if v == PASS and (failures or failing or n_failed):
        v = FAIL
    n = summary.get("cases", len(cases))
    judged = summary.get("judged_entries") or {}
    skipped = summary.get("not_judged_entries") or {}
    coarse = unresolved_by_oracle(summary, cases, oracles)
    groups = summary.get("groups") or []
    headline, detail = {
        PASS: ("All oracles agree",
               f"All {plural(count(n), 'case')} agree with {', '.join(oracles) or 'every oracle'} "
               "within tolerance."),
        FAIL: ("Disagreement found",
               f"{n_failed} of {plural(count(n), 'case')} "
               f"{'disagrees' if n_failed == 1 else 'disagree'} with at least one oracle"
               + (f": {groups_text(groups, shown=len(groups))}." if groups else ".")),
        INTERRUPTED: ("Interrupted: no verdict", f"{_stopped(summary, n)}: no verdict."),
    }.get(v, ("Nothing judged", "No entry of any case could be judged."))
    if v == FAIL and summary.get("interrupted"):
        detail += f" The run was {_stopped(summary, n)}; the rest were not checked."
    stats = [("cases", n, ""), ("failing", n_failed, ""), ("oracles", len(oracles), ""),
             *([("asked", count(summary["asked"]), "")] if "asked" in summary else []),
             ("judged entries", sum(count(x) for x in judged.values()), ""),
             ("not judged", sum(count(x) for x in skipped.values()), "")]
    if any(coarse.values()):
        names = " and ".join(f"{o}'s" for o, k in coarse.items() if k)
        stats.append((UNRESOLVED_WORD, sum(coarse.values()),
                      f"still judged, but only to {names} error bar, which was wider than the "
                      "tolerance; see Not judged"))
    first = summary.get("first_disagreement")
    return {"verdict": v, "cls": {PASS: "ok", FAIL: "bad", INTERRUPTED: "bad"}.get(v, "nj"),
            "groups": groups,
            "headline": headline, "detail": detail, "stats": stats,
            "first": first, "first_case": anchor_of(first, shown),
            "diagnosis": _first_diagnosis(first, shown)}


def _stopped(summary: Mapping[str, Any], n: Any) -> str:
    """``interrupted after 1,201 of 3,000 cases``."""
    checked = count(summary.get("checked_of_asked", n))
    asked = count(summary.get("asked", n))
    return f"interrupted after {checked:,} of {asked:,} case{'' if asked == 1 else 's'}"


def _first_diagnosis(first: Any, shown: list[dict[str, Any]]) -> str:
    """The diagnosis of the failure the verdict names, in one line."""
    found = anchor_of(first, shown)
    return (found.get("diagnosis") or {}).get("line", "") if found else ""


def _blamed(a: Mapping[str, Any], r: Any) -> str | None:
    if not isinstance(r, Mapping) or r.get("verdict") not in (FAIL, ERROR):
        return None
    return attributed_to(a["activations"], r)


def matrix_columns(cases: list[dict], acts: list[str]) -> list[str]:
    """The activations, with an "output" column before the last when a failure is put there."""
    blamed = {_blamed(arch(c), r) for c in cases for r in (c.get("oracles") or {}).values()}
    return [*acts[:-1], OUTPUT_COLUMN, acts[-1]] if OUTPUT_COLUMN in blamed else list(acts)


def matrix(cases: list[dict], losses: list[str], acts: list[str],
           oracles: list[str]) -> list[dict[str, Any]]:
    """Loss × activation × oracle: the worst err of the cases in each cell.

    A failing case goes only to the activation of the layer where it first goes wrong (or to
    "output"), so a correct activation does not turn red beside a wrong one.
    """
    cells: dict[tuple[str, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for c in cases:
        a = arch(c)
        for o, r in (c.get("oracles") or {}).items():
            blamed = _blamed(a, r)
            for act in {blamed} if blamed else set(a["activations"]) or {NO_HIDDEN}:
                cells[(a["loss"], act, o)].append(r)
    rows = []
    for loss in losses:
        for i, o in enumerate(oracles):
            row = [_matrix_cell(cells.get((loss, act, o), []), f"{loss} · {act} · {o}")
                   for act in acts]
            rows.append({"loss": loss, "oracle": o, "first": i == 0, "span": len(oracles),
                         "cells": row})
    return rows


def _matrix_cell(recs: list[Mapping[str, Any]], where: str) -> dict[str, Any]:
    if not recs:
        return {"text": "", "n": 0, "cls": "none", "tip": f"{where}: no cases"}
    worst = max(recs, key=lambda r: rank(num(r.get("err"))))
    verdicts = {r.get("verdict") for r in recs}
    v = FAIL if verdicts & {FAIL, ERROR} else NOT_JUDGED if verdicts == {NOT_JUDGED} else None
    failing = sum(r.get("verdict") in (FAIL, ERROR) for r in recs)
    return {"text": fmt_err(worst.get("err")), "n": len(recs),
            "cls": grade(worst.get("err"), worst.get("rtol"), v),
            "tip": f"{where}: worst err {fmt_err(worst.get('err'))} "
                   f"(rtol {fmt_err(worst.get('rtol'))}); {plural(len(recs), 'case')}, "
                   f"{failing} failing"}


def _share(part: int, whole: int) -> tuple[str, str]:
    s = part / whole if whole else 0.0
    return f"{s:.1%}", f"{100 * s:.1f}"


def not_judged(summary: Mapping[str, Any], cases: list[dict], oracles: list[str],
               acts: list[str]) -> dict[str, Any]:
    """Per oracle: judged, unresolved, not judged; per activation too."""
    judged, skipped = summary.get("judged_entries") or {}, summary.get("not_judged_entries") or {}
    coarse = unresolved_by_oracle(summary, cases, oracles)
    per_act: dict[str, Counter[str]] = defaultdict(Counter)
    n_cases: Counter[str] = Counter()
    for c in cases:
        for act in set(arch(c)["activations"]) or {NO_HIDDEN}:
            n_cases[act] += 1
            for o, r in (c.get("oracles") or {}).items():
                per_act[act][o] += count(r.get("not_judged"))
    rows = []
    for o in oracles:
        j, s, u = count(judged.get(o, 0)), count(skipped.get(o, 0)), coarse[o]
        share, bar = _share(s, j + s)
        rows.append({"oracle": o, "judged": j, "not_judged": s, "share": share, "bar": bar,
                     "unresolved": u, "unresolved_share": _share(u, j)[0]})
    return {"rows": rows, "any_unresolved": any(coarse.values()),
            "acts": [{"act": a, "cases": n_cases[a], "counts": [per_act[a][o] for o in oracles]}
                     for a in acts if n_cases[a]]}


def passing(cases: list[dict], losses: list[str], summary: Mapping[str, Any]) -> dict[str, Any]:
    """Counts of passing cases by loss and number of hidden layers, and the per-loss table."""
    depths = sorted({len(arch(c)["activations"]) for c in cases})
    tally: Counter[tuple[str, int, bool]] = Counter(
        (arch(c)["loss"], len(arch(c)["activations"]), c.get("verdict") == PASS) for c in cases)
    grid = [{"loss": loss, "cells": [(tally[(loss, d, True)],
                                      tally[(loss, d, True)] + tally[(loss, d, False)])
                                     for d in depths]} for loss in losses]
    by_loss = [dict(r, cls=verdict_class(r.get("verdict"), r.get("worst_err")))
               for r in summary.get("by_loss_oracle") or []]
    return {"depths": depths, "grid": grid, "by_loss": by_loss,
            "phases": Counter(str(c.get("phase")) for c in cases).most_common(),
            "passed": sum(c.get("verdict") == PASS for c in cases), "total": len(cases)}


_QUANTITIES = ("loss", "deltas", "grad_weights", "grad_biases")
_WORDS = {"weight_layout": {"in_out": "weights stored (n_in, n_out)"},
          "reduction": {"mean": "loss averaged over the batch"},
          "targets": {"labels": "integer class labels"}}


def declared(run: Mapping[str, Any]) -> list[str]:
    """What the run judged other than by default: declared conventions, quantities left out."""
    conventions = run.get("conventions") or {}
    out = [words[value] for key, words in _WORDS.items()
           if (value := conventions.get(key)) in words]
    if conventions.get("losses"):
        out.append(f"losses {', '.join(conventions['losses'])}")
    provides = conventions.get("provides")
    if provides and set(provides) != set(_QUANTITIES):
        missing = [q for q in _QUANTITIES if q not in provides]
        out.append(f"does not provide {', '.join(missing)} (reported \"not provided\")")
    checks = run.get("checks")
    if checks and set(checks) != set(_QUANTITIES):
        out.append(f"the verdict counts only {', '.join(checks)}; the rest is reported "
                   f"\"not checked\" (--checks)")
    return out
