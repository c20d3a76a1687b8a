"""What a run prints: progress while it works, then the summary table and one verdict line."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from deltacheck.core.verdicts import INTERRUPTED, NOT_JUDGED_WORD, PASS, UNRESOLVED_WORD
from deltacheck.core.words import plural
from deltacheck.results.groups import groups_text
from deltacheck.results.reading import line_of


class Progress:
    """A progress bar on a terminal; a few plain lines when not on one (CI logs)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.current: str | None = None
        self.started = time.perf_counter()
        self.last_draw = 0.0

    def __call__(self, loss: str, done: int, total: int, failed: int) -> None:
        """Report that ``done`` of ``total`` cases of ``loss`` have been checked."""
        if self.tty:
            now = time.perf_counter()
            if now - self.last_draw < 0.1 and done < total:
                return
            self.last_draw = now
            width = 30
            filled = int(width * done / max(total, 1))
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(f"\r  {loss:<4} [{bar}] {done}/{plural(total, 'case')}, {failed} failed ")
            if done >= total:
                self.stream.write("\n")
            self.stream.flush()
        elif loss != self.current:
            self.current = loss
            self.stream.write(f"checking {loss}: {plural(total, 'case')}\n")
            self.stream.flush()

    def finish(self) -> None:
        """End the bar's line if it is still open."""
        if self.tty:
            self.stream.write("\r" + " " * 70 + "\r")
            self.stream.flush()


def _fmt(err: Any) -> str:
    return err if isinstance(err, str) else f"{err:.1e}"


def summary_lines(doc: dict[str, Any]) -> list[str]:
    """The loss × oracle table, the not-judged counts and the minimal failures."""
    rtol = {(t["oracle"], t["dtype"]): t["rtol"] for t in doc["tolerances"]}
    dtype = doc["run"]["dtype"]
    lines = [f"{'loss':<5} {'oracle':<6} {'cases':>6} {'worst err':>10} {'tol':>8}  verdict"]
    for row in doc["summary"]["by_loss_oracle"]:
        tol = rtol.get((row["oracle"], dtype), float("nan"))
        lines.append(f"{row['loss']:<5} {row['oracle']:<6} {row['cases']:>6} "
                     f"{_fmt(row['worst_err']):>10} {tol:>8.0e}  {row['verdict']}")
    nj = doc["summary"]["not_judged_entries"]
    if any(nj.values()):
        counts = ", ".join(f"{o} {n}" for o, n in nj.items())
        lines.append(f"{NOT_JUDGED_WORD} (entries on or near a kink): {counts}")
    coarse = doc["summary"].get("unresolved_entries") or {}
    if any(coarse.values()):
        counts = ", ".join(f"{o} {n}" for o, n in coarse.items() if n)
        lines.append(f"{UNRESOLVED_WORD} (judged only to the oracle's error bar): {counts}")
    for failure in doc["failures"]:
        if failure["minimal"]:
            case = failure["case"]
            acts = ", ".join(case["activations"]) or "no hidden layer"
            lines.append(f"minimal failing network: widths {case['widths']}, {acts}, "
                         f"{case['loss']}, {case['dtype']}, batch {case['batch']}")
            lines.append(f"  {failure['message']}")
            if failure.get("diagnosis"):
                lines.append(f"  diagnosis: {line_of(failure['diagnosis'])}")
            lines.append(f"  reproduce: {failure['repro']}")
    return lines


def warning_lines(doc: dict[str, Any]) -> list[str]:
    """One line per distinct warning the implementation raised, with its count."""
    return [f"warning: {w['category']}: {w['message']} ({w['where']}): "
            f"{plural(w['count'], 'time')} in {plural(w['cases'], 'case')}, first in case "
            f"{w['first_case']}" for w in doc["summary"].get("warnings") or []]


def cases_text(n: int) -> str:
    """``1 case``, ``1,201 cases``."""
    return plural(n, "case")


def interrupted_text(doc: dict[str, Any]) -> str:
    """``interrupted after 1,201 of 3,000 cases: no verdict`` (or the failures found by then)."""
    s = doc["summary"]
    head = f"interrupted after {s['checked_of_asked']:,} of {cases_text(s['asked'])}"
    if s["failed_cases"]:
        return (f"{head}; DISAGREEMENT in {s['failed_cases']:,} of them: "
                f"{groups_text(s['groups'])}")
    return f"{head}: no verdict"


def counts_line(doc: dict[str, Any]) -> str:
    """How many cases were asked for, and what shrinking added."""
    s = doc["summary"]
    line = f"cases:  {s['cases']:,} checked"
    if s.get("minimal_cases") or s["checked_of_asked"] != s["asked"]:
        line += f" ({s['checked_of_asked']:,} of {s['asked']:,} asked"
        if s.get("minimal_cases"):
            line += f", + {s['minimal_cases']} minimal from shrinking"
        line += ")"
    reruns = doc["run"].get("shrink_steps") or 0
    if reruns:
        line += f"; shrinking re-ran {cases_text(reruns)} (not counted)"
    return line


def timeout_lines(doc: dict[str, Any]) -> list[str]:
    """The case that did not return in time, and the command that replays it."""
    hung = next((f for f in doc["failures"] if f.get("timed_out") is not None
                 or str(f.get("impl_problem", "")).startswith("timed out")), None)
    if hung is None:
        return []
    s = doc["summary"]
    return [f"case {hung['id']} {hung['message'].removeprefix('the implementation ')}: the "
            f"run stopped there, {s['not_checked']:,} of {cases_text(s['asked'])} not checked",
            f"  reproduce: {hung['repro']}"]


def verdict_line(doc: dict[str, Any]) -> str:
    """The last line: plainly "all agree", "interrupted", or every failure in groups."""
    s = doc["summary"]
    if s["verdict"] == PASS:
        oracles = ", ".join(doc["run"]["oracles"])
        return f"all agree: {cases_text(s['cases'])}, oracles {oracles}"
    if s["verdict"] == INTERRUPTED:
        return interrupted_text(doc).replace("interrupted", "INTERRUPTED", 1)
    if s["cases"] == 0:
        return "nothing checked: no cases were run"
    groups = s.get("groups") or []
    first = next((f for f in doc["failures"] if f["minimal"]), None)
    first = first or next((f for f in doc["failures"] if f.get("diagnosis")), None)
    diagnosis = (first or {}).get("diagnosis") or {}
    if len(groups) > 1 or (groups and groups[0]["kind"] != diagnosis.get("kind")):
        said = groups_text(groups)
    else:  # one kind of failure (or an older document): its cause, in full
        said = line_of(diagnosis) if diagnosis else s["first_disagreement"]
    line = f"DISAGREEMENT in {s['failed_cases']:,} of {cases_text(s['cases'])}: {said}"
    if s.get("interrupted"):
        line += f" (interrupted: {s['not_checked']:,} asked cases not checked)"
    return line
