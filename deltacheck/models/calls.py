"""Run a user's model: construct it through its own constructor, give it drawn parameters, and
call ``loss`` for scores (test mode) and for ``(loss, grads)`` (train mode).

Whatever the model does wrong is a reason, never an exception out of here (construction alone
is the user's input: a model that cannot be built is a ``DeltacheckError``). The masks its
dropout layers draw are read back from each call of ``dropout_forward`` (out / x), wherever
the model's module and the modules of the functions it imports look that name up.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from deltacheck.core.errors import DeltacheckError, exception_text


def construct(cls: Any, kwargs: Mapping[str, Any]) -> Any:
    """``cls(**kwargs)``; a model that cannot be built is one line naming the arguments."""
    try:
        with np.errstate(all="ignore"):
            model = cls(**kwargs)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "dtype")
        raise DeltacheckError(f"model {getattr(cls, '__name__', cls)}({args}) cannot be "
                              f"constructed: {type(exc).__name__}: {exception_text(exc)}; "
                              "declare its arguments with --arg KEY=VALUE") from None
    if not isinstance(getattr(model, "params", None), dict) or not callable(
            getattr(model, "loss", None)):
        raise DeltacheckError(f"model {getattr(cls, '__name__', cls)}: an instance needs a "
                              "params dict and a loss(X, y=None) method, as in the course")
    return model


def drawn_values(params: Mapping[str, Any], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Float64 values of the params' shapes: W ~ N(0, 1/fan-in), b and β ~ N(0, 0.3²),
    γ ~ 1 + N(0, 0.3²), so that no layer saturates and the loss stays of order one."""
    out = {}
    for name, value in params.items():
        shape = np.shape(value)
        z = rng.standard_normal(shape)
        if name.startswith("gamma"):
            out[name] = 1.0 + 0.3 * z
        elif name.startswith("W") and len(shape) > 1:
            fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else int(shape[0])
            out[name] = 1.5 * z / np.sqrt(max(fan_in, 1))
        else:
            out[name] = 0.3 * z
    return out


def set_values(model: Any, values: Mapping[str, np.ndarray]) -> None:
    """The model's params become copies of ``values``."""
    for name, value in values.items():
        model.params[name] = np.array(value, dtype=np.float64)


def _namespaces(model: Any) -> list[dict[str, Any]]:
    """The globals of the model's module and of the modules of the functions it imports."""
    module = sys.modules.get(type(model).__module__)
    found: dict[int, dict[str, Any]] = {}
    if module is not None:
        space = vars(module)
        found[id(space)] = space
        for value in list(space.values()):
            g = getattr(value, "__globals__", None)
            if isinstance(g, dict):
                found[id(g)] = g
    return list(found.values())


def _mask(x: Any, out: Any) -> np.ndarray:
    """The scaled mask a dropout applied: out / x where x ≠ 0, its one nonzero value snapped."""
    x, out = np.asarray(x, np.float64), np.asarray(out, np.float64)
    with np.errstate(all="ignore"):
        ratio = np.where(x != 0, out / np.where(x != 0, x, 1.0), 0.0)
    kept = ratio[ratio != 0]
    scale = float(np.median(kept)) if kept.size else 1.0
    return np.where(ratio != 0, scale, 0.0)


@contextmanager
def recording_dropout(model: Any) -> Iterator[list[np.ndarray]]:
    """The masks of every train-mode ``dropout_forward`` call inside the block, in order."""
    masks: list[np.ndarray] = []
    patched = []
    for space in _namespaces(model):
        original = space.get("dropout_forward")
        if not callable(original):
            continue

        def wrapper(x: Any, dropout_param: Any, *rest: Any, _f: Any = original,
                    **kw: Any) -> Any:
            result = _f(x, dropout_param, *rest, **kw)
            if isinstance(dropout_param, dict) and dropout_param.get("mode") == "train":
                try:
                    masks.append(_mask(x, result[0]))
                except Exception:
                    masks.append(np.full(np.shape(x), np.nan))
            return result

        space["dropout_forward"] = wrapper
        patched.append((space, original))
    try:
        yield masks
    finally:
        for space, original in patched:
            space["dropout_forward"] = original


def call(model: Any, X: np.ndarray, y: np.ndarray | None) -> tuple[Any, str]:
    """``model.loss(X)`` or ``model.loss(X, y)`` on copies; (result, why it cannot be judged)."""
    X_given = X.copy()
    try:
        with np.errstate(all="ignore"):
            result = model.loss(X_given) if y is None else model.loss(X_given, y.copy())
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        what = "loss(X)" if y is None else "loss(X, y)"
        return None, f"{what} raised {type(exc).__name__}: {exception_text(exc)}"
    if not np.array_equal(X_given, X):
        return None, "loss changed its input X in place"
    return result, ""


def scores_problem(scores: Any, N: int) -> str:
    """Why ``loss(X)``'s result is not (N, C) finite scores, or ''."""
    if isinstance(scores, tuple):
        return "loss(X) without labels returned a tuple; it should return the scores (N, C)"
    try:
        s = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError):
        return f"loss(X) returned {type(scores).__name__}, not an array of scores"
    if s.ndim != 2 or s.shape[0] != N:
        return f"loss(X) returned scores of shape {s.shape}, but should return (N, C) = ({N}, C)"
    if not np.all(np.isfinite(s)):
        return "loss(X) returned non-finite scores (a non-finite value never passes)"
    return ""


def loss_problem(result: Any, names: list[str]) -> str:
    """Why ``loss(X, y)``'s result is not (a finite loss, a grads dict of params), or ''."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return f"loss(X, y) returned {type(result).__name__}, not (loss, grads)"
    loss, grads = result
    try:
        value = float(np.asarray(loss, dtype=np.float64))
    except (TypeError, ValueError):
        return f"loss(X, y) returned a loss of type {type(loss).__name__}, not a number"
    if not np.isfinite(value):
        return f"loss(X, y) returned the loss {value} (a non-finite value never passes)"
    if not isinstance(grads, Mapping):
        return f"loss(X, y) returned grads of type {type(grads).__name__}, not a dict"
    missing = [n for n in names if n not in grads]
    if missing:
        return f"grads has no {missing[0]!r} (it has {', '.join(map(str, grads)) or 'nothing'})"
    return ""


def snapshot(model: Any) -> dict[str, Any]:
    """Copies of the params and of the bn_params' running statistics."""
    return {"params": {k: np.array(v, copy=True) for k, v in model.params.items()},
            "bn_params": copy.deepcopy(getattr(model, "bn_params", None))}
