"""Run one case through the implementation under test and every selected oracle."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

import deltacheck.oracles as oracles
from deltacheck.core import activations as registry
from deltacheck.core.case import Case
from deltacheck.core.conventions import OUTPUTS, Conventions
from deltacheck.core.errors import DeltacheckError
from deltacheck.core.gradients import Gradients
from deltacheck.core.tolerances import lookup
from deltacheck.core.verdicts import ERROR, FAIL, NOT_CHECKED, NOT_PROVIDED, Verdict, worst
from deltacheck.core.watchdog import CaseTimedOut
from deltacheck.core.words import a_type
from deltacheck.judging import rounding
from deltacheck.judging.calling import DEFAULT, Backprop, call, describe_exception, differences
from deltacheck.judging.compare import OracleResult, compare_all
from deltacheck.oracles.base import OracleUnavailable, kinks_of, rounding_reach


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
    nondeterministic: str = ""  # where two runs of the implementation differed, if they did
    again: Gradients | None = field(default=None, repr=False)  # the second run's values
    aliased: str = ""  # returned arrays that alias its inputs or that its next call overwrites
    forward: rounding.Forward | None = field(default=None, repr=False)  # float64 forward pass
    # the activations the case was checked with, by name: what a diagnosis reads, whatever the
    # registry holds by the time it is made
    registry: dict[str, Any] = field(default_factory=dict, repr=False)
    diagnosis: dict[str, Any] | None = None  # JSON; made by whoever checks a failing case
    conventions: Conventions = field(default_factory=Conventions)  # the implementation's
    timed_out: float | None = None  # the limit (s) the implementation's call outlived
    warnings: list[dict[str, Any]] = field(default_factory=list)  # the implementation's own
    checks: frozenset[str] = frozenset(OUTPUTS)  # the quantities that make the verdict

    @property
    def seen(self) -> frozenset[str]:
        """The quantities provided and checked: what a diagnosis may read of the implementation."""
        return self.conventions.provides & self.checks

    @property
    def err(self) -> dict[str, float]:
        """The worst judged error per oracle."""
        return {name: r.err for name, r in self.oracles.items()}

    def _repr_html_(self) -> str:
        """The case's card in a notebook cell (deltacheck.judging.case_card)."""
        from deltacheck.core.card import render
        from deltacheck.judging.case_card import card

        return render(card(self))

    def first_message(self) -> str:
        """The first disagreement, in one line."""
        if self.nondeterministic:
            return (f"the implementation is nondeterministic: two runs on this case differ in "
                    f"{self.nondeterministic}")
        if self.impl_problem:
            return about_implementation(self.impl_problem)
        for r in self.oracles.values():
            q = r.first_failure()
            if q is not None:
                return q.message
            if r.verdict == ERROR and r.message:
                return r.message
        return ""


# What the implementation did ("the implementation raised …"); any other problem is about a
# part of its result ("the implementation's grad_weights[0] has shape …").
_DID = ("raised", "returned", "modified", "timed out", "is ", "did ", "changed")


def about_implementation(problem: str) -> str:
    """The problem as a sentence about the implementation, said once."""
    if problem.startswith("the implementation"):
        return problem
    return f"the implementation {problem}" if problem.startswith(_DID) else \
        f"the implementation's {problem}"


def activation_objects(names: Sequence[str]) -> list[Any]:
    """The registered activation objects for a list of names."""
    try:
        return [registry.get(name) for name in names]
    except KeyError as exc:
        raise DeltacheckError(f"{exc.args[0]}; add it to the registry with --activation "
                              f"MODULE:NAME (or registry.registered() from Python)") from None


def analysis(case: Case) -> tuple[rounding.Forward | None, str]:
    """The case's float64 forward pass and its rounding bounds, shared by the oracles' kink
    masks and every oracle's floors; or None and why, when an activation's h breaks on it
    under numpy (then no floor can be computed, and no comparison judged)."""
    try:
        with np.errstate(all="ignore"):
            return rounding.forward(case, activation_objects(case.activations)), ""
    except DeltacheckError:
        raise
    except Exception as exc:
        return None, (f"the rounding floor needs the activations' h under numpy, which raised "
                      f"{describe_exception(exc)}")


def oracle_values(case: Case, oracle_names: Sequence[str], *,
                  forward: rounding.Forward | None = None) -> dict[str, Gradients | str]:
    """Each oracle's gradients for the case, or the reason it could not give them."""
    acts = activation_objects(case.activations)
    reach = None
    if forward is not None and any(kinks_of(act) for act in acts):
        with np.errstate(all="ignore"):
            reach = rounding_reach(forward.signed_W, forward.b, forward.a, forward.z, acts)
    out: dict[str, Any] = {}

    def attempt(name: str, call: Callable[[], Any]) -> None:
        try:
            out[name] = call()
        except (OracleUnavailable, KeyboardInterrupt):
            raise
        except BaseException as exc:  # an oracle (or a user's h) that breaks, even by sys.exit,
            # must not take the run down with it
            out[name] = f"the {name} oracle raised {describe_exception(exc)}"

    def call(name: str, what: str) -> Callable[[], Any]:
        return partial(getattr(oracles.get(name), what), *case.arguments()[:2], acts,
                       case.loss, case.x, case.t, reach=reach)

    # An oracle that computes asynchronously (jax) is started first and read last: it runs
    # beside the others.
    started = [name for name in oracle_names if hasattr(oracles.get(name), "start")]
    for name in started:
        attempt(name, call(name, "start"))
    for name in oracle_names:
        if name not in started:
            attempt(name, call(name, "gradients"))
    for name in started:
        if callable(out[name]):  # not the reason it could not start
            attempt(name, out[name])
    return {name: out[name] for name in oracle_names}


def check_case(case: Case, impl: Backprop, oracle_names: Sequence[str], *,
               repeat: bool = False, earlier: Gradients | None = None,
               conventions: Conventions = DEFAULT, timeout: float | None = None,
               checks: frozenset[str] = frozenset(OUTPUTS), probe: bool = False) -> CaseResult:
    """Run the implementation on a case and compare it with every oracle.

    With ``repeat`` the implementation runs twice (and is compared with ``earlier`` values
    of the same case, when given): outputs that differ between the runs make the case fail as
    nondeterministic, and ``nondeterministic`` says where they differ. A call of the
    implementation that outlives ``timeout`` seconds fails the case with ``timed_out`` set (the
    caller decides whether the run goes on). ``conventions`` are
    the implementation's own (``deltacheck.core.conventions.declared(impl)``): what it does not
    provide is "not provided", never failed and never passed; what ``checks`` leaves out is
    compared but "not checked", kept out of the verdict (``--checks grads``). With ``probe``
    the implementation is also called on another case of the same shapes, to see whether that
    call changes the arrays this one returned (``aliased`` then says so, and the case fails).
    """
    if not isinstance(case, Case):
        raise DeltacheckError(f"case must be a deltacheck.Case, not {a_type(case)}")
    if not callable(impl):
        raise DeltacheckError(f"impl must be a callable backprop(weights, biases, activations, "
                              f"loss, x, t), not {a_type(impl)}")
    oracle_names = oracles.checked_names(oracle_names)
    forward, broken = analysis(case)
    values = oracle_values(case, oracle_names, forward=forward)
    result = CaseResult(case=case, verdict=FAIL, forward=forward, registry=dict(registry.REGISTRY),
                        conventions=conventions, checks=frozenset(checks))
    for name, value in values.items():
        if isinstance(value, Gradients):
            result.oracle_values[name] = value
    aliased: list[str] = []
    try:
        result.impl_values, result.impl_problem, result.impl_traceback = call(
            case, impl, conventions, timeout=timeout, caught=result.warnings,
            probe=same_shapes(case) if probe else None, aliased=aliased)
        result.aliased = "; ".join(aliased)
    except CaseTimedOut as exc:
        result.timed_out, result.impl_problem = exc.seconds, str(exc)
        repeat = False
    if repeat:
        try:
            again, _, _ = call(case, impl, conventions, timeout=timeout, caught=[])
        except CaseTimedOut as exc:  # the second run hung where the first did not
            result.timed_out, result.impl_problem = exc.seconds, str(exc)
            result.impl_values = again = None
        result.nondeterministic = "" if again is None else differences(result.impl_values, again)
        result.again = again
        if earlier is not None and not result.nondeterministic and again is not None:
            result.nondeterministic = differences(earlier, result.impl_values)
    if result.impl_values is None:
        compared = {}
    elif forward is None:  # nothing can be judged without the floor: said, never passed
        compared = {name: OracleResult(oracle=name, rtol=compare_tol(case, name), verdict=ERROR,
                                       message=f"cannot judge: {broken}")
                    for name in result.oracle_values}
    else:
        compared = compare_all(case, result.impl_values, result.oracle_values, forward=forward)
    for name, value in values.items():
        tol = compare_tol(case, name)
        if isinstance(value, str):
            result.oracles[name] = OracleResult(oracle=name, rtol=tol, verdict=ERROR,
                                                message=value)
        elif result.impl_values is None:
            result.oracles[name] = OracleResult(oracle=name, rtol=tol, verdict=FAIL,
                                                message=about_implementation(result.impl_problem))
        else:
            result.oracles[name] = set_aside(compared[name], conventions.provides, checks)
            if result.impl_problem:  # values were readable but the call misbehaved
                result.oracles[name].verdict = FAIL
                result.oracles[name].message = about_implementation(result.impl_problem)
    result.verdict = worst([r.verdict for r in result.oracles.values()])
    if result.nondeterministic:  # whatever this run's values, the next run's differ
        result.verdict = FAIL
    return result


def same_shapes(case: Case) -> Case:
    """Another case of the same shapes and dtype (x moved by a quarter)."""
    return dataclasses.replace(case, x=np.asarray(case.x) + np.asarray(0.25, dtype=case.x.dtype))


def compare_tol(case: Case, oracle_name: str) -> float:
    """The relative tolerance for this case's dtype and an oracle."""
    return lookup(oracle_name, case.dtype).rtol


def not_provided(result: OracleResult, provides: frozenset[str]) -> OracleResult:
    """The quantities the implementation does not provide marked so, and the verdict without
    them: never failed, never passed."""
    return set_aside(result, provides, frozenset(OUTPUTS))


def set_aside(result: OracleResult, provides: frozenset[str],
              checks: frozenset[str]) -> OracleResult:
    """The quantities not provided, or provided but not in ``checks``, marked so, and the
    verdict without them: never failed, never passed."""
    if len(provides & checks) == len(OUTPUTS):  # everything provided and checked
        return result
    for q in result.quantities:
        mark: Verdict | None = (NOT_PROVIDED if q.quantity not in provides else
                                NOT_CHECKED if q.quantity not in checks else None)
        if mark is not None:
            q.verdict, q.err, q.message = mark, 0.0, ""
            q.max_abs = q.max_rel = q.norm_rel = 0.0
            q.worst = q.impl_value = q.oracle_value = None
    result.verdict = worst([q.verdict for q in result.quantities])
    return result
