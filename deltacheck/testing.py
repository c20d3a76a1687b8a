"""Assertion helpers for property tests: the test body reads like the statement it checks."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from deltacheck.core.case import Case
from deltacheck.core.verdicts import ERROR, FAIL
from deltacheck.diagnosis import check_case
from deltacheck.judging.check import CaseResult
from deltacheck.oracles import checked_names
from deltacheck.results import collector
from deltacheck.results.reading import line_of


def repro_snippet(case: Case) -> str:
    """Python that rebuilds the case, for pasting into a shell."""
    return f"from deltacheck import Case; case = Case.loads({case.dumps()!r})"


def _not_the_tests_time(seconds: float) -> None:
    """Tell Hypothesis that ``seconds`` were deltacheck's, not the code under test's.

    Hypothesis's deadline (200 ms by default) would otherwise fail the first example on the
    oracles' framework imports, and any example on a jax compilation, and then report the
    test as flaky when the rerun is fast. Hypothesis leaves the time of drawing data out of
    the deadline; the oracles' time is booked the same way. Outside a Hypothesis test, or with
    a Hypothesis that keeps no such account, this does nothing.
    """
    try:
        from hypothesis.control import current_build_context

        times = current_build_context().data.draw_times
        times["deltacheck:assert_agrees"] = times.get("deltacheck:assert_agrees", 0.0) + seconds
    except Exception:
        return


def assert_agrees(case: Case, impl: Callable[..., Any], *,
                  oracles: Sequence[str] = ("torch", "jax", "fd")) -> CaseResult:
    """Fail, with the first disagreement and a repro, unless ``impl`` agrees with every oracle.

    Its time does not count toward a Hypothesis deadline: no ``deadline=None`` is needed.
    """
    __tracebackhide__ = True
    names = checked_names(oracles, argument="oracles")
    start = time.perf_counter()
    try:
        result = check_case(case, impl, names)
    finally:
        _not_the_tests_time(time.perf_counter() - start)
    collector.record(result)
    if result.verdict in (FAIL, ERROR):
        why = line_of(result.diagnosis)
        raise AssertionError(f"{result.first_message()}\n"
                             + (f"  diagnosis: {why}\n" if why else "")
                             + f"  repro: {repro_snippet(case)}")
    return result


def assert_close(got: Any, want: Any, *, oracle: str = "torch", dtype: str = "float64",
                 what: str = "value", loss_value: float = 1.0) -> None:
    """``got`` agrees with ``want`` under the tolerance-table row (oracle, dtype)."""
    __tracebackhide__ = True
    import numpy as np

    from deltacheck.core import tolerances
    from deltacheck.core.verdicts import PASS
    from deltacheck.judging.compare import compare_entries

    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        raise AssertionError(f"{what} has shape {got.shape}; it should be {want.shape}")
    rtol = tolerances.lookup(oracle, dtype).rtol
    q = compare_entries(got, want, unjudged=None, uncertainty=0.0, rtol=rtol,
                        floor=tolerances.atol(dtype, loss_value), quantity="value", layer=None)
    if q.verdict != PASS:
        where = f"[{', '.join(map(str, q.worst))}]" if q.worst else ""
        raise AssertionError(f"{what}{where} = {q.impl_value:.6g}, but should be "
                             f"{q.oracle_value:.6g} (err {q.err:.2g} > {rtol:.0e}, {oracle} "
                             f"tolerance for {dtype})")


def assert_layer_agrees(case: Any, forward: Callable[..., Any],
                        backward: Callable[..., Any] | None = None, *,
                        oracles: Sequence[str] = ("torch", "jax", "fd"),
                        params: dict[str, Any] | None = None) -> Any:
    """Fail, with the first wrong gradient, the diagnosis and the case, unless a layer agrees.

    ``case`` is drawn by ``deltacheck.strategies.layer_cases(kind)``; ``forward`` and
    ``backward`` follow the course conventions (a loss: ``forward`` returns ``(loss, dx)``).
    """
    __tracebackhide__ = True
    from deltacheck.layers.diagnosis import diagnose
    from deltacheck.layers.discovery import LayerSpec
    from deltacheck.layers.judging import check_case as check_layer_case

    names = checked_names(oracles, argument="oracles")
    spec = LayerSpec(case.kind, forward, backward, getattr(forward, "__name__", "forward"),
                     getattr(backward, "__name__", "") if backward else "", dict(params or {}))
    start = time.perf_counter()
    try:
        outcome = check_layer_case(spec, case, names)
    finally:
        _not_the_tests_time(time.perf_counter() - start)
    if outcome.verdict == FAIL:
        why = diagnose(case, outcome)
        raise AssertionError(f"{outcome.message}\n  diagnosis: {why['cause']}: {why['text']}\n"
                             f"  case: {case.kind}, {case.describe()}")
    return outcome


def assert_model_agrees(model: Any, *, composition: Sequence[str] | None = None,
                        args: dict[str, Any] | None = None, examples: int = 3, seed: int = 0,
                        oracles: Sequence[str] = ("torch", "fd"), l2: float = 0.5) -> Any:
    """Fail, with the first wrong parameter, the case and where the slip is (a layer or the
    composition), unless a model class agrees with its composed reference layers."""
    __tracebackhide__ = True
    from deltacheck.models.api import check_model

    start = time.perf_counter()
    try:
        result = check_model(model, composition=composition, args=args, examples=examples,
                             seed=seed, oracles=oracles, l2=l2)
    finally:
        _not_the_tests_time(time.perf_counter() - start)
    failure = result.failure
    if failure is not None:
        why = failure["diagnosis"]
        raise AssertionError(f"{failure['gradient'] or failure['stage']}: {failure['message']}\n"
                             f"  diagnosis: {why['cause']}: {why['text']}\n"
                             f"  case: {failure['case']['describe']}")
    return result
