"""One activation under numpy, torch and jax: its h, its dh, and autograd's h', all float64.

Each framework evaluates the definition unchanged (``h(a, xp)`` with that framework's
namespace) and hands back plain float64 numpy arrays. Anything that goes wrong in a user's
definition under one framework becomes a ``FrameworkFailure`` with a one-line reason, so the
audit can report it per framework instead of stopping. Check 3 lives here too: the same
definition must give the same values in all three frameworks, to rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltacheck.core import tolerances
from deltacheck.judging import rounding
from deltacheck.judging.check import describe_exception
from deltacheck.oracles.base import one_torch_thread

FRAMEWORKS = ("numpy", "torch", "jax")
ORACLE_OF = {"torch": "torch", "jax": "jax"}  # whose row of the tolerance table applies


class FrameworkFailure(RuntimeError):
    """The definition could not be evaluated under one framework; the message says why."""


def _as_float64(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:
        raise FrameworkFailure(f"{what} returned {type(value).__name__}, not an array "
                               f"({describe_exception(exc)})") from None
    if arr.shape != shape:
        raise FrameworkFailure(f"{what} returned shape {arr.shape} for input shape {shape}; "
                               f"h and dh must work elementwise")
    if arr.dtype != np.float64:
        raise FrameworkFailure(f"{what} returned {arr.dtype} for float64 input; keep the "
                               f"input's dtype (e.g. xp.ones_like(a), not a Python list)")
    return arr


def _guard(what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except FrameworkFailure:
        raise
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a user's definition, even one calling sys.exit
        raise FrameworkFailure(f"{what} raised {describe_exception(exc)}") from None


class NumpyEval:
    """h and dh under numpy."""

    name = "numpy"

    def __init__(self, act: Any) -> None:
        self.act = act

    def h(self, a: np.ndarray) -> np.ndarray:
        """h(a) in float64."""
        with np.errstate(all="ignore"):
            out = _guard("h(a, numpy)", lambda: self.act.h(a, np))
        return _as_float64(out, a.shape, "h(a, numpy)")

    def dh(self, a: np.ndarray) -> np.ndarray:
        """The hand-written dh(a) in float64."""
        with np.errstate(all="ignore"):
            out = _guard("dh(a, numpy)", lambda: self.act.dh(a, np))
        return _as_float64(out, a.shape, "dh(a, numpy)")


class TorchEval:
    """h, dh and autograd of h under torch (array-api-compat's namespace)."""

    name = "torch"

    def __init__(self, act: Any) -> None:
        try:
            import array_api_compat
            import torch
        except ImportError:
            raise FrameworkFailure("torch is not installed: pip install torch==2.13.0 "
                                   "array-api-compat") from None
        self.act, self.torch = act, torch
        self.xp = array_api_compat.array_namespace(torch.zeros(1, dtype=torch.float64))

    def _call(self, fn: Callable[[Any, Any], Any], a: np.ndarray, what: str, grad: bool) -> Any:
        torch = self.torch
        with one_torch_thread():
            t = torch.tensor(a, dtype=torch.float64, requires_grad=grad)
            out = _guard(what, lambda: fn(t, self.xp))
            if not isinstance(out, torch.Tensor):
                raise FrameworkFailure(f"{what} returned {type(out).__name__}, not a torch "
                                       f"tensor; use xp's functions, not numpy's")
            if not grad:
                return out.detach().numpy().copy()
            if tuple(out.shape) != a.shape:
                raise FrameworkFailure(f"{what} returned shape {tuple(out.shape)} for input "
                                       f"shape {a.shape}; h must work elementwise")
            if not out.requires_grad:  # h does not depend on a: h' is 0
                return np.zeros_like(a)
            (g,) = _guard(f"autograd of {what}", lambda: torch.autograd.grad(out.sum(), t))
            return g.detach().numpy().copy()

    def h(self, a: np.ndarray) -> np.ndarray:
        """h(a) in float64."""
        return _as_float64(self._call(self.act.h, a, "h(a, torch)", False), a.shape, "h(a, torch)")

    def dh(self, a: np.ndarray) -> np.ndarray:
        """The hand-written dh(a) in float64."""
        return _as_float64(self._call(self.act.dh, a, "dh(a, torch)", False), a.shape,
                           "dh(a, torch)")

    def grad(self, a: np.ndarray) -> np.ndarray:
        """h'(a) by torch.autograd of Σ h(a) (h is elementwise)."""
        return _as_float64(self._call(self.act.h, a, "h(a, torch)", True), a.shape,
                           "autograd of h(a, torch)")


class JaxEval:
    """h, dh and jax.grad of h under jax.numpy, with x64 on only inside each call."""

    name = "jax"

    def __init__(self, act: Any) -> None:
        try:
            import jax
            import jax.numpy as jnp
        except ImportError:
            raise FrameworkFailure("jax is not installed: pip install jax") from None
        self.jax, self.jnp = jax, jnp
        h = lambda a: act.h(a, jnp)  # noqa: E731
        # jit: the Hypothesis batches all have one size, so each function compiles once.
        self._h = jax.jit(h)
        self._dh = jax.jit(lambda a: act.dh(a, jnp))
        self._grad = jax.jit(jax.grad(lambda a: jnp.sum(h(a))))

    def _call(self, fn: Any, a: np.ndarray, what: str) -> np.ndarray:
        with self.jax.enable_x64(True):
            x = self.jnp.asarray(a, dtype=self.jnp.float64)
            out = _guard(what, lambda: self.jax.device_get(fn(x)))
        return _as_float64(out, a.shape, what)

    def h(self, a: np.ndarray) -> np.ndarray:
        """h(a) in float64."""
        return self._call(self._h, a, "h(a, jax.numpy)")

    def dh(self, a: np.ndarray) -> np.ndarray:
        """The hand-written dh(a) in float64."""
        return self._call(self._dh, a, "dh(a, jax.numpy)")

    def grad(self, a: np.ndarray) -> np.ndarray:
        """h'(a) by jax.grad of Σ h(a) (h is elementwise)."""
        return self._call(self._grad, a, "jax.grad of h(a, jax.numpy)")


def evaluator(framework: str, act: Any) -> NumpyEval | TorchEval | JaxEval:
    """The evaluator of one framework for this activation; FrameworkFailure if unavailable."""
    makers: dict[str, type[NumpyEval | TorchEval | JaxEval]] = {
        "numpy": NumpyEval, "torch": TorchEval, "jax": JaxEval}
    return makers[framework](act)


@dataclass
class FrameworkResult:
    """Check 3 for one framework against numpy."""

    framework: str
    verdict: str
    message: str = ""
    points: int = 0
    err: dict[str, float] = field(default_factory=dict)  # worst err of h and of dh
    worst: dict[str, dict[str, float]] = field(default_factory=dict)
    numpy_only: bool = False  # dh did not run under this framework

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        from deltacheck.judging.compare import json_number

        return {"verdict": self.verdict, "message": self.message, "points": self.points,
                "numpy_only": self.numpy_only,
                "err": {k: json_number(v) for k, v in self.err.items()},
                "worst": {k: {kk: json_number(vv) for kk, vv in w.items()}
                          for k, w in self.worst.items()}}


def agreement(x: np.ndarray, y: np.ndarray, floor: np.ndarray, rtol: float) -> np.ndarray:
    """err per point of x and y: |x − y| / (max(|x|, |y|) + floor / rtol), so neither is the
    reference; NaN and inf give inf."""
    with np.errstate(all="ignore"):
        diff = np.abs(x - y)
        err = diff / (np.maximum(np.abs(x), np.abs(y)) + floor / rtol)
    err = np.where(diff == 0, 0.0, err)
    return np.where(np.isfinite(x) & np.isfinite(y), err, np.inf)


def check_frameworks(act: Any, a: np.ndarray, frameworks: Sequence[str], *,
                     h_err: np.ndarray | float = 0.0,
                     dh_err: np.ndarray | float = 0.0) -> dict[str, Any]:
    """Check 3: h and dh under each framework equal numpy's where numpy's are finite, to the
    floors plus ``h_err`` and ``dh_err`` (how far a few ulp in the primitives move h and dh);
    neither side is the reference. A dh that runs only under numpy is "numpy only"."""
    ref = NumpyEval(act)
    h_np, dh_np = ref.h(a), ref.dh(a)
    slope, curve = rounding.derivative_bounds(act, a)
    # As in the rounding floor of a network: evaluating h costs ε (|h| + |a| + |a h'|) (a Φ(a)
    # and friends cancel for a < 0; the argument's rounding is amplified by the slope), and
    # evaluating h' costs ε (max(1, |h'|) + |a h''|).
    with np.errstate(all="ignore"):
        h_size = np.abs(h_np) + np.abs(a) * (1.0 + slope)
    h_size = np.where(np.isfinite(h_size), h_size, 0.0)  # unknown: the strictest floor
    floors = {"h": tolerances.floor_scale("float64") * h_size + h_err,
              "dh": rounding.elementwise_floor(a, slope, curve, "float64") + dh_err}
    results = {"numpy": FrameworkResult("numpy", "pass", "",
                                        points=int(a.size))}
    for name in frameworks:
        if name == "numpy":
            continue
        out = FrameworkResult(name, "pass")
        rtol = tolerances.lookup(ORACLE_OF[name], "float64").rtol
        try:
            ev = evaluator(name, act)
            assert not isinstance(ev, NumpyEval)  # numpy is the reference, skipped above
            values = {"h": ev.h(a)}
            ev.grad(a)  # h must also be differentiable under this framework: the oracles are
        except FrameworkFailure as exc:
            out.verdict, out.message = "fail", str(exc)
            results[name] = out
            continue
        try:
            values["dh"] = ev.dh(a)
        except FrameworkFailure as exc:  # dh written for numpy, as course code is: fine
            out.message = f"dh numpy only ({exc})"
            out.numpy_only = True
        problems = []
        for key in values:
            mine, ours = values[key], h_np if key == "h" else dh_np
            scope = np.isfinite(ours)  # where numpy is not finite, check 4 reports it
            err = np.where(scope, agreement(mine, ours, floors[key], rtol), 0.0)
            out.points = int(scope.sum())
            i = int(np.argmax(err)) if err.size else 0
            out.err[key] = float(err[i]) if err.size else 0.0
            out.worst[key] = {"a": float(a[i]), "numpy": float(ours[i]), name: float(mine[i])}
            if err.size and not (out.err[key] <= rtol):
                problems.append(f"{key}({a[i]:.6g}) = {mine[i]:.17g} under {name}, but "
                                f"{ours[i]:.17g} under numpy (err {out.err[key]:.2g} > "
                                f"{rtol:.0e})")
        if problems:
            out.verdict = "fail"
            out.message = "; ".join([*problems, *([out.message] if out.message else [])])
        results[name] = out
    verdict = "pass" if all(r.verdict == "pass" for r in results.values()) else "fail"
    return {"verdict": verdict, **{name: r.to_json() for name, r in results.items()}}
