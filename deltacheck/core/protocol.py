"""Read an implementation's return value against the protocol, saying what is wrong with it.

The protocol's mapping ``{"loss", "deltas", "grad_weights", "grad_biases"}`` becomes float64
``Gradients``; anything else becomes a list of problems, one line each, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from deltacheck.core.case import Case
from deltacheck.core.errors import exception_text
from deltacheck.core.gradients import QUANTITIES, Gradients
from deltacheck.core.words import a_type, plural

KEYS = ("loss", *QUANTITIES)


def normalise(raw: Any, case: Case, *, provides: frozenset[str] = frozenset(KEYS)
              ) -> tuple[Gradients | None, list[str]]:
    """Check an implementation's return value against the protocol; list what is wrong.

    A quantity that is not in ``provides`` may be missing: it is read as NaN of the right shape,
    which the caller marks "not provided" (never passed, never failed).
    """
    try:
        return _normalise(raw, case, provides)
    except Exception as exc:  # a result that breaks when read is a verdict, not a crash
        return None, [f"returned a result that raised {type(exc).__name__} when read"]


def _numbers(value: Any, what: str) -> tuple[np.ndarray | None, str]:
    """The value as a float64 array, or None and why it is not an array of real numbers."""
    try:
        arr = np.asarray(value)
        if arr.dtype.kind == "O":  # lists of scalars of other libraries, ragged rows, ...
            arr = np.asarray(value, dtype=np.float64)
    except Exception as exc:
        return None, f"{what} is not an array of numbers ({type(exc).__name__}: " \
                     f"{exception_text(exc):.100})"
    if arr.dtype.kind not in "fiu":  # complex, bool, strings: not what the protocol returns
        return None, f"{what} has dtype {arr.dtype}; it should hold real floats"
    return arr.astype(np.float64), ""


def _normalise(raw: Any, case: Case, provides: frozenset[str]
               ) -> tuple[Gradients | None, list[str]]:
    if not isinstance(raw, Mapping):
        wanted = [key for key in KEYS if key in provides]
        return None, [f"returned {a_type(raw)}; it should return a mapping with "
                      f"{', '.join(map(repr, wanted))}"]
    missing = [repr(key) for key in KEYS if key not in raw and key in provides]
    if missing:
        said = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} or {missing[-1]}"
        return None, [f"result has no {said}"]
    problems: list[str] = []
    shapes = {"deltas": [(case.batch, n) for n in case.widths[1:]],
              "grad_weights": [w.shape for w in case.weights],
              "grad_biases": [v.shape for v in case.biases]}
    raw = {"loss": float("nan"), **{key: [np.full(shape, np.nan) for shape in shapes[key]]
                                    for key in QUANTITIES if key not in provides},
           **{key: raw[key] for key in KEYS if key in provides}}
    loss_array, problem = _numbers(raw["loss"], "loss")
    if loss_array is None or loss_array.size != 1:
        problems.append(problem if loss_array is None
                        else f"loss has shape {loss_array.shape}; it should be one float")
        loss = float("nan")
    else:
        loss = float(loss_array.reshape(()))
    values: dict[str, list[np.ndarray]] = {}
    for key in QUANTITIES:
        got = raw[key]
        if isinstance(got, (str, bytes, Mapping)) or not hasattr(got, "__len__"):
            problems.append(f"{key} is {a_type(got)}; it should be a list of "
                            f"{plural(case.n_layers, 'array')}")
            continue
        if len(got) != case.n_layers:
            problems.append(f"{key} has {plural(len(got), 'array')}; it should have "
                            f"{case.n_layers} (one per layer)")
            continue
        arrays = []
        for l, (value, shape) in enumerate(zip(got, shapes[key], strict=True)):
            arr, problem = _numbers(value, f"{key}[{l}]")
            if arr is None:
                problems.append(problem)
                continue
            if arr.shape != tuple(shape):
                problems.append(f"{key}[{l}] has shape {arr.shape}; it should be {tuple(shape)}")
            arrays.append(arr)
        values[key] = arrays
    if problems:
        return None, problems
    return Gradients(loss=loss, deltas=values["deltas"], grad_weights=values["grad_weights"],
                     grad_biases=values["grad_biases"]), []
