"""One call of the implementation under test, in its own conventions.

The protocol's arguments are converted to the conventions the implementation declares
(weights (n_in, n_out), class labels, ...), its result is converted back, and anything it did
wrong (raised, changed its inputs, returned what cannot be read) becomes a problem to report,
never an exception.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from deltacheck.core import interrupts
from deltacheck.core.case import Case
from deltacheck.core.conventions import Conventions, protocol_result, user_arguments
from deltacheck.core.errors import exception_text
from deltacheck.core.gradients import QUANTITIES, Gradients
from deltacheck.core.isolation import isolated
from deltacheck.core.protocol import normalise
from deltacheck.core.watchdog import CaseTimedOut, time_limit
from deltacheck.core.words import a_type, plural
from deltacheck.judging.records import SYMBOL

Backprop = Callable[..., Any]
_RAISED = object()  # the implementation raised, so there is no return value to judge
DEFAULT = Conventions()


def describe_exception(exc: BaseException) -> str:
    """``Type: message``, even for an exception whose ``__str__`` raises."""
    text = exception_text(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _format_traceback(exc: BaseException) -> str:
    # Formatting calls str() on the exception too; fall back to the bare type name.
    try:
        return "".join(traceback.format_exception(exc, limit=-8))
    except Exception:
        return f"{describe_exception(exc)} (traceback could not be formatted)\n"


def _same(before: np.ndarray, now: Any) -> bool:
    if (type(now) is np.ndarray and now.dtype == before.dtype and now.shape == before.shape
            and now.tobytes() == before.tobytes()):
        return True  # bit for bit: the common case, and the cheap one
    try:
        return bool(np.shape(before) == np.shape(now)
                    and np.array_equal(before, now, equal_nan=True))
    except Exception:  # whatever was put in its place, it is not the array given
        return False


def _modified(before: tuple[Any, ...], args: tuple[Any, ...]) -> list[str]:
    """What the implementation changed among its arguments: lists, arrays or names."""
    weights, biases, acts, loss, x, t = args
    weights0, biases0, acts0, loss0, x0, t0 = before
    changed = []
    for what, given, now in (("weights", weights0, weights), ("biases", biases0, biases)):
        if len(now) != len(given):  # popped or appended: entries cannot be paired up
            changed.append(f"{what} ({len(given)} → {plural(len(now), 'array')})")
        else:
            changed += [f"{what}[{l}]" for l, (a, b) in enumerate(zip(given, now, strict=True))
                        if not _same(a, b)]
    changed += [what for what, a, b in (("x", x0, x), ("t", t0, t)) if not _same(a, b)]
    try:
        same_names = list(acts) == list(acts0) and loss == loss0
    except Exception:
        same_names = False
    if not same_names:
        changed.append("activations or loss")
    return changed


def _arrays(value: Any, where: str) -> list[tuple[str, np.ndarray]]:
    """Every ndarray in a returned value (lists of arrays, arrays), with where it sits."""
    if isinstance(value, np.ndarray):
        return [(where, value)]
    if isinstance(value, (list, tuple)):
        return [pair for i, v in enumerate(value) for pair in _arrays(v, f"{where}[{i}]")]
    return []


def input_aliases(raw: Any, args: tuple[Any, ...]) -> list[str]:
    """The returned arrays that share memory with an argument: the caller's next change to
    its own arrays would change the result."""
    if not isinstance(raw, Mapping):
        return []
    try:
        given = _arrays(list(args[0]), "weights") + _arrays(list(args[1]), "biases") + \
            _arrays(args[4], "x") + _arrays(args[5], "t")
        found = []
        for key in (*QUANTITIES, "loss"):
            for where, arr in _arrays(raw.get(key), SYMBOL.get(key, "E")):
                hits = [name for name, g in given if np.shares_memory(arr, g)]
                if hits:
                    found.append(f"{where} shares memory with {hits[0]}")
        return found
    except Exception:  # an odd mapping: the protocol reader says what is wrong with it
        return []


def _overwritten(raw: Any, values: Gradients, case: Case, conventions: Conventions) -> list[str]:
    """What of an earlier result reads differently now: arrays the implementation reuses."""
    again, _ = normalise(protocol_result(conventions, raw, batch=case.batch,
                                         n_layers=case.n_layers), case,
                         provides=conventions.provides)
    if again is None:
        return ["its result"]
    gaps = differences(values, again)
    return [gaps] if gaps else []


def call(case: Case, impl: Backprop, conventions: Conventions = DEFAULT, *,
         timeout: float | None = None, caught: list[dict[str, Any]] | None = None,
         probe: Case | None = None, aliased: list[str] | None = None
         ) -> tuple[Gradients | None, str, str]:
    """One isolated call: the values read by the protocol, what was wrong, the traceback.

    A call that outlives ``timeout`` seconds raises ``CaseTimedOut``; Ctrl-C raises at once in
    the implementation's own code. The warnings it raises go to ``caught`` (see
    ``isolated``), when given. Returned arrays that share memory with the arguments are a
    problem; with ``probe`` (another case of the same shapes) the implementation is called
    again on it, and what that call changes in this call's result is a problem too. Both
    are also added to ``aliased``, when given.
    """
    args = user_arguments(conventions, *case.arguments())
    before = copy.deepcopy(args)
    raw: Any = _RAISED
    problem = trace = ""
    try:
        with isolated(caught), interrupts.interruptible(), time_limit(timeout):
            raw = impl(*args)
    except (KeyboardInterrupt, CaseTimedOut):
        raise
    except BaseException as exc:  # a misbehaving implementation gets a verdict, even sys.exit
        problem, trace = f"raised {describe_exception(exc)}", _format_traceback(exc)
    if raw is _RAISED:
        return None, problem, trace
    # None too: normalise says what a wrong return value is
    changed = _modified(before, args)
    shared = input_aliases(raw, args)
    kept = raw
    raw = protocol_result(conventions, raw, batch=case.batch, n_layers=case.n_layers)
    grads, problems = normalise(raw, case, provides=conventions.provides)
    if grads is None and not problems:  # never fail with an empty reason
        problems.append(f"returned {a_type(raw)} that could not be read")
    if changed:
        problems.append(f"modified its inputs: {', '.join(changed)}")
    if shared:
        problems.append(f"returned arrays that alias its inputs ({', '.join(shared)})")
    if probe is not None and grads is not None:
        # what the probe raises is its own problem, not this case's; a hang ends the run
        call(probe, impl, conventions, timeout=timeout, caught=[])
        reused = _overwritten(kept, grads, case, conventions)
        if reused:
            shared.append(f"the next call overwrites {reused[0]}")
            problems.append(f"returned arrays that its next call overwrites ({reused[0]}): "
                            f"buffers of its own, not fresh arrays")
    if aliased is not None:
        aliased.extend(shared)
    return grads, "; ".join(problems), trace


def differences(first: Gradients | None, second: Gradients | None) -> str:
    """Where two runs of the implementation on one case differ, or "" if they agree bit for bit."""
    if first is None or second is None:
        return "" if first is second else "one of two runs returned no readable values"
    where = []
    if not np.array_equal(first.loss, second.loss, equal_nan=True):
        where.append(f"E ({first.loss:.6g} then {second.loss:.6g})")
    for key in QUANTITIES:
        for l, (u, v) in enumerate(zip(first.quantity(key), second.quantity(key), strict=True)):
            if not np.array_equal(u, v, equal_nan=True):
                with np.errstate(all="ignore"):
                    gap = float(np.nanmax(np.abs(u - v))) if u.size else 0.0
                where.append(f"{SYMBOL[key]}[{l}] (max |Δ| {gap:.2g})")
    return ", ".join(where)


