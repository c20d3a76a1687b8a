"""How far a few ulp of error in the primitives move h, dh and autograd's h′: the floors' share.

A framework's tanh, exp or cosh may be a few ulp off (jax's tanh(−20) is 7 ulp off, torch's 1).
Where h′ is a difference of nearly equal terms (1 − tanh², 1 − σ, cosh near 0) those ulp turn
into an error of h′ far above ε max(1, |h′|), which no hand-written derivative can match. So
every primitive is evaluated SHIFT = FLOOR_FACTOR ε off, in either direction (its derivative
read from the shifted value where the framework reads it from the output: tanh, exp, expm1),
and how far that moves h (numpy), dh (numpy) and h′ (torch autograd) becomes part of the floor.
The estimate looks at the formula actually written, not at a list of known formulas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deltacheck.audit.frameworks import FrameworkFailure, NumpyEval, TorchEval
from deltacheck.core.tolerances import FLOOR_FACTOR

SHIFT = FLOOR_FACTOR * float(np.finfo(np.float64).eps)
PRIMITIVES = frozenset({
    "exp", "expm1", "log", "log1p", "log2", "log10", "tanh", "sinh", "cosh", "sin", "cos",
    "tan", "atan", "asinh", "acosh", "atanh", "erf", "erfc", "logaddexp", "sigmoid"})


class Shifted:
    """A namespace whose primitives return f(x) (1 + shift); everything else passes through."""

    def __init__(self, xp: Any, shift: float,
                 wrap: Callable[[str, Callable[..., Any], float], Callable[..., Any]]) -> None:
        self._xp, self._shift, self._wrap = xp, shift, wrap

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._xp, name)
        return self._wrap(name, fn, self._shift) if name in PRIMITIVES else fn


def _scaled(name: str, fn: Callable[..., Any], shift: float) -> Callable[..., Any]:
    return lambda *args, **kw: fn(*args, **kw) * (1.0 + shift)


def _torch_shifted(name: str, fn: Callable[..., Any], shift: float) -> Callable[..., Any]:
    """As ``_scaled``, but tanh, exp and expm1 take their derivative from the shifted output,
    as torch's and jax's own backward passes do (1 − y², y, y + 1)."""
    slope = {"tanh": lambda y: 1 - y * y, "exp": lambda y: y, "expm1": lambda y: y + 1}.get(name)
    if slope is None:
        return _scaled(name, fn, shift)

    def shifted(x: Any) -> Any:
        y = fn(x).detach() * (1.0 + shift)
        return y + (x - x.detach()) * slope(y).detach()
    return shifted


def _spread(base: np.ndarray, moved: list[np.ndarray]) -> np.ndarray:
    out = np.zeros(base.shape)
    with np.errstate(all="ignore"):
        for m in moved:
            d = np.abs(m - base)
            out = np.maximum(out, np.where(np.isfinite(d), d, 0.0))
    return out


class _Act:
    def __init__(self, act: Any, xp_of: Callable[[Any], Any]) -> None:
        self.name, self._act, self._xp_of = act.name, act, xp_of

    def h(self, a: Any, xp: Any) -> Any:
        return self._act.h(a, self._xp_of(xp))

    def dh(self, a: Any, xp: Any) -> Any:
        return self._act.dh(a, self._xp_of(xp))


def _shifted(shift: float, wrap: Callable[[str, Callable[..., Any], float], Callable[..., Any]]
             ) -> Callable[[Any], Any]:
    return lambda xp: Shifted(xp, shift, wrap)


def _numpy_moves(act: Any, a: np.ndarray, key: str) -> list[np.ndarray]:
    out = []
    for s in (SHIFT, -SHIFT):
        try:
            ev = NumpyEval(_Act(act, _shifted(s, _scaled)))
            out.append(getattr(ev, key)(a))
        except FrameworkFailure:
            pass
    return out


def h_error(act: Any, a: np.ndarray, h: np.ndarray) -> np.ndarray:
    """How far h(a) under numpy moves when its primitives are SHIFT off: its absolute error."""
    return _spread(h, _numpy_moves(act, a, "h"))


def dh_error(act: Any, a: np.ndarray, dh: np.ndarray) -> np.ndarray:
    """How far the hand-written dh(a) under numpy moves when its primitives are SHIFT off."""
    return _spread(dh, _numpy_moves(act, a, "dh"))


def grad_error(act: Any, a: np.ndarray) -> np.ndarray:
    """How far torch autograd's h′(a) moves when the primitives of h are SHIFT off; zeros
    where torch is not installed or h does not run under it."""
    try:
        base = TorchEval(act).grad(a)
        moved = [TorchEval(_Act(act, _shifted(s, _torch_shifted))).grad(a)
                 for s in (SHIFT, -SHIFT)]
    except FrameworkFailure:
        return np.zeros(a.shape)
    return _spread(base, moved)
