"""The verdicts a comparison gives, as one type that compares equal to its plain strings."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class Verdict(str, Enum):
    """pass, fail, error (an oracle could not judge) or not judged (every entry on a kink).

    A ``str`` subclass, so that JSON, templates and older code that compares with the plain
    strings ("pass", "fail", ...) keep working.
    """

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_JUDGED = "not judged"
    NOT_PROVIDED = "not provided"  # the implementation declares it does not return it
    NOT_CHECKED = "not checked"  # provided, but kept out of the verdict (--checks)

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


PASS, FAIL, ERROR, NOT_JUDGED = Verdict.PASS, Verdict.FAIL, Verdict.ERROR, Verdict.NOT_JUDGED
NOT_PROVIDED, NOT_CHECKED = Verdict.NOT_PROVIDED, Verdict.NOT_CHECKED
# A run's verdict (never a case's): stopped by Ctrl-C before its cases were all checked, with no
# disagreement found until then. It is never a pass.
INTERRUPTED = "interrupted"

# What the report, console, JSON and docs call entries that are not (fully) judged.
NOT_JUDGED_WORD = NOT_JUDGED.value  # on or near a kink: counted, never failed or passed
UNRESOLVED_WORD = "unresolved"  # judged, but only to the oracle's own error bar


def worst(verdicts: Iterable[str]) -> Verdict:
    """Fail beats error beats pass beats not judged (also when nothing was judged) beats not
    checked beats not provided."""
    seen = {Verdict(v) for v in verdicts}
    for v in (FAIL, ERROR, PASS):
        if v in seen:
            return v
    if seen and seen <= {NOT_PROVIDED, NOT_CHECKED}:  # nothing was even compared
        return NOT_CHECKED if NOT_CHECKED in seen else NOT_PROVIDED
    return NOT_JUDGED
