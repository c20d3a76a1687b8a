"""Custom backward passes inside the frameworks: a ``torch.autograd.Function`` subclass or a
``jax.custom_vjp`` function, run on numpy arrays.

- ``user_pair``: the function under test as a layer pair: ``forward(*inputs, *params)`` returns
  ``(out, cache)`` in the dtype of the inputs it is given, and ``backward(dout, cache)`` returns
  the gradients its *custom* backward computes (torch autograd through ``Function.apply``,
  ``jax.vjp`` of the custom_vjp function).
- ``references``: its forwards for the truths: numpy (the function itself, in float64, no
  gradient), and the framework's own autograd of the forward where it is natively
  differentiable (torch: ``Function.forward`` called with a plain context, so its own ops are
  recorded; jax: the custom_vjp's primal function ``fun``).
- ``second_order``: ⟨v, backward(dout)⟩ and its gradient with respect to the inputs and dout by
  autograd through the custom backward (double backward), for a differences check.

Inputs reach torch with ``torch.from_numpy``, which shares their memory: a function that changes
its inputs in place changes the caller's arrays, where the layer checks see it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deltacheck.core.errors import DeltacheckError
from deltacheck.oracles.base import OracleUnavailable
from deltacheck.oracles.jax_cache import jax_modules
from deltacheck.oracles.layers.backends import _import

TORCH_HINT = "pip install torch==2.13.0"


def framework_of(obj: Any) -> str | None:
    """"torch" for an autograd.Function subclass, "jax" for a custom_vjp function, else None."""
    if isinstance(obj, type) and any(c.__module__.startswith("torch.autograd")
                                     and c.__name__ == "Function" for c in obj.__mro__):
        return "torch"
    if type(obj).__name__ == "custom_vjp" and type(obj).__module__.startswith("jax"):
        return "jax"
    return None


def _torch() -> Any:
    return _import("torch", TORCH_HINT)


def _jax() -> Any:
    return jax_modules()[0]  # with the persistent compilation cache


def _tensor(torch: Any, value: np.ndarray) -> Any:
    if not value.flags.writeable or any(s < 0 for s in value.strides):
        value = value.copy()
    return torch.from_numpy(value)


def _single(out: Any, what: str) -> Any:
    if isinstance(out, (tuple, list)):
        raise TypeError(f"{what} returned {len(out)} outputs; deltacheck checks functions of "
                        "one output")
    return out


def user_pair(obj: Any, framework: str, n_inputs: int
              ) -> tuple[Callable[..., tuple[Any, Any]], Callable[..., tuple[Any, ...]]]:
    """``forward(*inputs, *params) -> (out, cache)`` and ``backward(dout, cache) -> grads``."""
    if framework == "torch":
        return _torch_pair(obj, n_inputs)
    return _jax_pair(obj, n_inputs)


def _torch_pair(fn: Any, n: int) -> tuple[Callable[..., Any], Callable[..., Any]]:
    torch = _torch()
    name = f"{fn.__name__}.apply"

    def forward(*args: Any) -> tuple[np.ndarray, Any]:
        leaves = [_tensor(torch, np.asarray(a)).requires_grad_() for a in args[:n]]
        out = _single(fn.apply(*leaves, *args[n:]), name)
        return out.detach().numpy().copy(), (leaves, out)

    def backward(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
        leaves, out = cache
        if not out.requires_grad:
            raise TypeError(f"{name} returned a tensor without a gradient (grad_fn is None)")
        grads = torch.autograd.grad(out, leaves, grad_outputs=_tensor(torch, dout),
                                    allow_unused=True)
        return tuple(np.zeros(leaf.shape, leaf.detach().numpy().dtype) if g is None
                     else g.detach().numpy().copy() for g, leaf in zip(grads, leaves, strict=True))

    return forward, backward


def _jax_pair(fn: Any, n: int) -> tuple[Callable[..., Any], Callable[..., Any]]:
    jax = _jax()
    compiled: dict[str, tuple[Any, Any]] = {}

    def parts(params: tuple[Any, ...]) -> tuple[Any, Any]:
        # compiled once per params (and by jax once per shape), as jax users run their code
        key = repr(params)
        if key not in compiled:
            def f(*v: Any) -> Any:
                return _single(fn(*v, *params), "the function")
            compiled[key] = (jax.jit(f), jax.jit(lambda xs, d: jax.vjp(f, *xs)[1](d)))
        return compiled[key]

    def forward(*args: Any) -> tuple[np.ndarray, Any]:
        with jax.enable_x64(True):
            xs = [jax.numpy.asarray(a) for a in args[:n]]
            f, pullback = parts(args[n:])
            return np.array(f(*xs)), (xs, pullback)

    def backward(dout: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
        xs, pullback = cache
        with jax.enable_x64(True):
            return tuple(np.array(g) for g in pullback(xs, jax.numpy.asarray(dout)))

    return forward, backward


class _Context:
    """A plain stand-in for autograd's ctx: ``Function.forward`` runs with its ops recorded."""

    def __init__(self, n: int) -> None:
        self.needs_input_grad = (True,) * n
        self.saved_tensors: tuple[Any, ...] = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors: Any) -> None:
        self.saved_tensors = tensors

    def save_for_forward(self, *tensors: Any) -> None:
        pass

    def mark_dirty(self, *tensors: Any) -> None:
        pass

    def mark_non_differentiable(self, *tensors: Any) -> None:
        pass

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value


def references(obj: Any, framework: str, n_inputs: int
               ) -> tuple[tuple[str, Callable[..., Any]], ...]:
    """The kind's forwards: ``(framework, fn(backend, *inputs, *params) -> out)``."""
    if framework == "torch":
        torch = _torch()

        def apply64(be: Any, *args: Any) -> np.ndarray:
            with torch.no_grad():
                xs = [torch.from_numpy(np.array(a, dtype=np.float64)) for a in args[:n_inputs]]
                return _single(obj.apply(*xs, *args[n_inputs:]), "apply").numpy().copy()

        def native(be: Any, *args: Any) -> Any:
            ctx = _Context(n_inputs)
            own = obj.setup_context is not torch.autograd.Function.setup_context
            out = _single(obj.forward(*args) if own else obj.forward(ctx, *args), "forward")
            if not getattr(out, "requires_grad", False):
                raise OracleUnavailable(f"{obj.__name__}.forward is not differentiable by "
                                        "torch autograd (its output has no grad_fn)")
            return out

        return (("numpy", apply64), ("torch", native))
    forward, _ = _jax_pair(obj, n_inputs)

    def apply64_jax(be: Any, *args: Any) -> np.ndarray:
        return forward(*[np.array(a, dtype=np.float64) for a in args[:n_inputs]],
                       *args[n_inputs:])[0]

    return (("numpy", apply64_jax), ("jax", lambda be, *args: obj.fun(*args)))


def second_order(obj: Any, framework: str, inputs: Sequence[np.ndarray], params: Sequence[Any],
                 dout: np.ndarray, v: Sequence[np.ndarray]
                 ) -> tuple[Callable[[Sequence[np.ndarray]], float], list[np.ndarray]]:
    """s(inputs, dout) = Σ ⟨vᵢ, backward(dout)ᵢ⟩ in float64, and its gradient with respect to
    (*inputs, dout) by autograd through the custom backward."""
    n = len(inputs)
    if framework == "torch":
        torch = _torch()

        def s_torch(values: Sequence[Any], graph: bool) -> Any:
            out = _single(obj.apply(*values[:n], *params), "apply")
            grads = torch.autograd.grad(out, values[:n], grad_outputs=values[n],
                                        create_graph=graph, allow_unused=True)
            return sum((g * torch.from_numpy(w)).sum() for g, w in zip(grads, v, strict=True)
                       if g is not None)

        leaves = [torch.tensor(np.array(a, np.float64), requires_grad=True)
                  for a in (*inputs, dout)]
        total = s_torch(leaves, True)
        if not getattr(total, "requires_grad", False):
            raise OracleUnavailable(f"{obj.__name__}.backward is not differentiable (no double "
                                    "backward: once_differentiable, or numpy inside)")
        found = torch.autograd.grad(total, leaves, allow_unused=True)
        analytic = [np.zeros(leaf.shape) if g is None else g.detach().numpy().copy()
                    for g, leaf in zip(found, leaves, strict=True)]

        def value(values: Sequence[np.ndarray]) -> float:
            tensors = [torch.from_numpy(np.array(a, np.float64)).requires_grad_()
                       for a in values]
            return float(s_torch(tensors, False))

        return value, analytic
    jax = _jax()
    value_fn, grad_fn = _jax_second(jax, obj, tuple(params), n)
    with jax.enable_x64(True):
        args = [jax.numpy.asarray(np.array(a, np.float64)) for a in (*inputs, dout)]
        vs = [jax.numpy.asarray(w) for w in v]
        try:
            analytic = [np.array(g) for g in grad_fn(args, vs)]
        except Exception as exc:
            raise OracleUnavailable(f"the custom_vjp backward is not differentiable by jax "
                                    f"({type(exc).__name__})") from None

    def value_jax(values: Sequence[np.ndarray]) -> float:
        with jax.enable_x64(True):
            return float(value_fn([jax.numpy.asarray(np.array(a, np.float64)) for a in values],
                                  vs))

    return value_jax, analytic


_SECOND: dict[tuple[int, str], tuple[Any, Any, Any]] = {}


def _jax_second(jax: Any, obj: Any, params: tuple[Any, ...], n: int) -> tuple[Any, Any]:
    """s(values, v) and its gradient in values, compiled once per function and params (and by
    jax once per shape): the differences call s twice per entry."""
    key = (id(obj), repr(params))
    if key not in _SECOND or _SECOND[key][0] is not obj:
        if len(_SECOND) > 64:
            _SECOND.clear()

        def s(values: Sequence[Any], v: Sequence[Any]) -> Any:
            _, pullback = jax.vjp(lambda *x: _single(obj(*x, *params), "the function"),
                                  *values[:n])
            return sum(jax.numpy.sum(g * w) for g, w in zip(pullback(values[n]), v,
                                                             strict=True))

        _SECOND[key] = (obj, jax.jit(s), jax.jit(jax.grad(s)))
    return _SECOND[key][1], _SECOND[key][2]


def require(obj: Any, argument: str) -> str:
    """The framework of ``obj``, or a DeltacheckError naming what ``--as function`` takes."""
    framework = framework_of(obj)
    if framework is None:
        raise DeltacheckError(f"{argument}: {getattr(obj, '__name__', type(obj).__name__)} is "
                              "neither a torch.autograd.Function subclass nor a jax.custom_vjp "
                              "function; --as function checks one of those")
    return framework
