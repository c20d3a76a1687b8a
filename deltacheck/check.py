"""Run one case through the implementation under test and every selected oracle."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import oracles
from deltacheck.case import Case
from deltacheck.compare import ERROR, FAIL, OracleResult, compare, normalise, verdict_of
from deltacheck.errors import DeltacheckError
from oracles.base import Gradients, OracleUnavailable
from reference_impl import activations as registry

Backprop = Callable[..., Any]


@dataclass
class CaseResult:
    """Everything learnt from one case: the implementation's values and every oracle's verdict."""

    case: Case
    verdict: str
    oracles: dict[str, OracleResult] = field(default_factory=dict)
    impl_problem: str = ""  # raised, wrong shapes, modified inputs: a verdict, not a crash
    impl_traceback: str = ""
    impl_values: Gradients | None = None
    oracle_values: dict[str, Gradients] = field(default_factory=dict)

    @property
    def err(self) -> dict[str, float]:
        """The worst judged error per oracle."""
        return {name: r.err for name, r in self.oracles.items()}

    def first_message(self) -> str:
        """The first disagreement, in one line."""
        if self.impl_problem:
            return f"the implementation {self.impl_problem}"
        for r in self.oracles.values():
            q = r.first_failure()
            if q is not None:
                return q.message
            if r.verdict == ERROR and r.message:
                return r.message
        return ""


def activation_objects(names: Sequence[str]) -> list[Any]:
    """The registered activation objects for a list of names."""
    try:
        return [registry.get(name) for name in names]
    except KeyError as exc:
        raise DeltacheckError(str(exc.args[0])) from None


def oracle_values(case: Case, oracle_names: Sequence[str]) -> dict[str, Gradients | str]:
    """Each oracle's gradients for the case, or the reason it could not give them."""
    acts = activation_objects(case.activations)
    out: dict[str, Gradients | str] = {}
    for name in oracle_names:
        try:
            out[name] = oracles.get(name).gradients(*case.arguments()[:2], acts, case.loss,
                                                    case.x, case.t)
        except OracleUnavailable:
            raise
        except Exception as exc:  # an oracle that breaks must not take the run down with it
            out[name] = f"the {name} oracle raised {type(exc).__name__}: {exc}"
    return out


def _modified(case: Case, args: tuple[Any, ...]) -> list[str]:
    weights, biases, acts, loss, x, t = args
    names = [*(f"weights[{l}]" for l in range(len(case.weights))),
             *(f"biases[{l}]" for l in range(len(case.biases))), "x", "t"]
    given = [*case.weights, *case.biases, case.x, case.t]
    now = [*weights, *biases, x, t]
    changed = [n for n, a, b in zip(names, given, now, strict=True)
               if not (np.shape(a) == np.shape(b) and np.array_equal(a, b, equal_nan=True))]
    if list(acts) != list(case.activations) or loss != case.loss:
        changed.append("activations or loss")
    return changed


def check_case(case: Case, impl: Backprop, oracle_names: Sequence[str]) -> CaseResult:
    """Run the implementation on a case and compare it with every oracle."""
    values = oracle_values(case, oracle_names)
    result = CaseResult(case=case, verdict=FAIL)
    for name, value in values.items():
        if isinstance(value, Gradients):
            result.oracle_values[name] = value
    args = case.arguments()
    try:
        raw = impl(*args)
    except (Exception, SystemExit) as exc:  # a misbehaving implementation gets a verdict
        result.impl_problem = f"raised {type(exc).__name__}: {exc}"
        result.impl_traceback = traceback.format_exc(limit=-8)
        raw = None
    if raw is not None:
        changed = _modified(case, args)
        grads, problems = normalise(raw, case)
        if changed:
            problems.append(f"modified its inputs: {', '.join(changed)}")
        result.impl_values = grads
        if problems:
            result.impl_problem = "; ".join(problems)
    for name, value in values.items():
        tol = compare_tol(case, name)
        if isinstance(value, str):
            result.oracles[name] = OracleResult(oracle=name, rtol=tol, verdict=ERROR,
                                                message=value)
        elif result.impl_values is None:
            result.oracles[name] = OracleResult(oracle=name, rtol=tol, verdict=FAIL,
                                                message=f"the implementation {result.impl_problem}")
        else:
            result.oracles[name] = compare(case, result.impl_values, value, oracle_name=name)
            if result.impl_problem:  # values were readable but the call misbehaved
                result.oracles[name].verdict = FAIL
                result.oracles[name].message = f"the implementation {result.impl_problem}"
    result.verdict = verdict_of([r.verdict for r in result.oracles.values()])
    return result


def compare_tol(case: Case, oracle_name: str) -> float:
    """The relative tolerance for this case's dtype and an oracle."""
    from deltacheck.tolerances import lookup

    return lookup(oracle_name, case.dtype).rtol
