"""The truths of a custom-backward function (a ``torch.autograd.Function`` subclass or a
``jax.custom_vjp`` function) come from its *forward* only, never from its custom backward:

- numpy: the function itself in float64, without gradient (for differences and the forward);
- torch or jax: the framework's own autograd of the forward where it is natively
  differentiable (torch: ``Function.forward`` called with a plain context, so that its own ops
  are recorded; jax: the custom_vjp's primal function ``fun``).

Running the function under test (its custom backward) is the harness's:
``deltacheck.layers.running_functions``.
"""

from __future__ import annotations

from collections.abc import Callable
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


def torch_module() -> Any:
    """torch, imported here (OracleUnavailable with the fix when it is missing)."""
    return _import("torch", TORCH_HINT)


def jax_module() -> Any:
    """jax with its persistent compilation cache."""
    return jax_modules()[0]


def tensor(torch: Any, value: np.ndarray) -> Any:
    """A tensor sharing ``value``'s memory (a copy where torch cannot share it)."""
    if not value.flags.writeable or any(s < 0 for s in value.strides):
        value = value.copy()
    return torch.from_numpy(value)


def single(out: Any, what: str) -> Any:
    """The one output of a function; a TypeError naming ``what`` for several."""
    if isinstance(out, (tuple, list)):
        raise TypeError(f"{what} returned {len(out)} outputs; deltacheck checks functions of "
                        "one output")
    return out


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
        torch = torch_module()

        def apply64(be: Any, *args: Any) -> np.ndarray:
            with torch.no_grad():
                xs = [torch.from_numpy(np.array(a, dtype=np.float64)) for a in args[:n_inputs]]
                return single(obj.apply(*xs, *args[n_inputs:]), "apply").numpy().copy()

        def native(be: Any, *args: Any) -> Any:
            ctx = _Context(n_inputs)
            own = obj.setup_context is not torch.autograd.Function.setup_context
            out = single(obj.forward(*args) if own else obj.forward(ctx, *args), "forward")
            if not getattr(out, "requires_grad", False):
                raise OracleUnavailable(f"{obj.__name__}.forward is not differentiable by "
                                        "torch autograd (its output has no grad_fn)")
            return out

        return (("numpy", apply64), ("torch", native))
    jax = jax_module()
    compiled: dict[str, Any] = {}

    def apply64_jax(be: Any, *args: Any) -> np.ndarray:
        params = args[n_inputs:]
        if repr(params) not in compiled:  # compiled once per params, by jax once per shape
            compiled[repr(params)] = jax.jit(lambda *x: single(obj(*x, *params), "the function"))
        with jax.enable_x64(True):
            xs = [jax.numpy.asarray(np.array(a, dtype=np.float64)) for a in args[:n_inputs]]
            return np.array(compiled[repr(params)](*xs))

    return (("numpy", apply64_jax), ("jax", lambda be, *args: obj.fun(*args)))


def require(obj: Any, argument: str) -> str:
    """The framework of ``obj``, or a DeltacheckError naming what ``--as function`` takes."""
    framework = framework_of(obj)
    if framework is None:
        raise DeltacheckError(f"{argument}: {getattr(obj, '__name__', type(obj).__name__)} is "
                              "neither a torch.autograd.Function subclass nor a jax.custom_vjp "
                              "function; --as function checks one of those")
    return framework
