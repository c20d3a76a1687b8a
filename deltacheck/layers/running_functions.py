"""Run a custom-backward function under test on numpy arrays: a ``torch.autograd.Function``
subclass or a ``jax.custom_vjp`` function (``deltacheck layer MODULE:NAME --as function``).

- ``user_pair``: the function as a layer pair: ``forward(*inputs, *params)`` returns
  ``(out, cache)`` in the dtype of the inputs it is given, and ``backward(dout, cache)`` returns
  the gradients its *custom* backward computes (torch autograd through ``Function.apply``,
  ``jax.vjp`` of the custom_vjp function, compiled as jax users run it);
- ``second_order``: s = Σ ⟨vᵢ, backwardᵢ(dout)⟩ and its gradient with respect to the inputs and
  dout by autograd through the custom backward (``--double``), which ``double`` compares with
  differences of s.

Inputs reach torch with ``torch.from_numpy``, which shares their memory: a function that changes
its inputs in place changes the caller's arrays, where the layer checks see it. The frameworks
are imported by ``deltacheck.oracles.layers.functions``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deltacheck.oracles.base import OracleUnavailable
from deltacheck.oracles.layers.functions import jax_module as _jax
from deltacheck.oracles.layers.functions import single as _single
from deltacheck.oracles.layers.functions import tensor as _tensor
from deltacheck.oracles.layers.functions import torch_module as _torch


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
