"""Where a failing case first goes wrong, and why.

Diagnosis is a step of checking a case, never a side effect of writing its results: whoever
checks a case (the campaign, ``check_case``, the assertion helpers) calls ``diagnosed`` on it,
while the activations it was checked with are still at hand in the result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from deltacheck.core.case import Case
from deltacheck.core.conventions import Conventions, declared
from deltacheck.core.gradients import Gradients
from deltacheck.core.verdicts import PASS
from deltacheck.diagnosis.diagnose import diagnosis_json
from deltacheck.judging import check


def diagnosed(result: check.CaseResult) -> check.CaseResult:
    """The result, with the diagnosis of a failing case made (once) and kept in it."""
    if result.verdict != PASS and result.diagnosis is None:
        result.diagnosis = diagnosis_json(result)
    return result


def check_case(case: Case, impl: Callable[..., Any], oracle_names: Sequence[str], *,
               repeat: bool = False, earlier: Gradients | None = None,
               conventions: Conventions | None = None, probe: bool = False
               ) -> check.CaseResult:
    """Run the implementation on a case, compare it with every oracle, and diagnose a failure.

    ``conventions``: the implementation's (default: those it declares as attributes);
    ``probe``: also see whether a call on another case changes the arrays it returned.
    """
    conventions = declared(impl) if conventions is None else conventions
    return diagnosed(check.check_case(case, impl, oracle_names, repeat=repeat, earlier=earlier,
                                      conventions=conventions, probe=probe))


__all__ = ["check_case", "diagnosed", "diagnosis_json"]
