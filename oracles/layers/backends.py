"""The three frameworks behind one small interface: arrays in and out, native ops, and the VJP.

A backend is made inside ``session(framework)``, which imports its framework (lazily: deltacheck
imports without torch or jax), pins torch to one thread for the call, and switches JAX's x64 on
for the call only (never as an import side effect). Every array that comes out is checked to be
float64.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltacheck.core.errors import DeltacheckError
from deltacheck.oracles.base import OracleUnavailable, check_float64
from deltacheck.oracles.layers import definitions

FRAMEWORKS = ("numpy", "torch", "jax")


@dataclass(frozen=True)
class Backend:
    """One framework: its namespace, conversions, native ops and (torch, jax) its VJP."""

    name: str
    xp: Any
    array: Callable[[np.ndarray], Any]  # a float64 array of the framework
    index: Callable[[np.ndarray], Any]  # an integer array (labels, gather indices)
    numpy: Callable[[Any], np.ndarray]  # back to numpy, detached
    log_softmax: Callable[[Any], Any]
    native: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    vjp: Callable[..., list[Any]] | None = None  # (fn, inputs, dout) -> the gradients
    vjp_many: Callable[..., list[Any]] | None = None  # the same, vmapped over a leading axis

    def convert(self, value: Any) -> Any:
        """A parameter in this framework: float arrays as float64, integer arrays as indices."""
        if isinstance(value, dict):
            return {key: self.convert(v) for key, v in value.items()}
        if isinstance(value, np.ndarray):
            if np.issubdtype(value.dtype, np.integer):
                return self.index(value)
            return self.array(value)
        return value

    def outputs(self, values: Sequence[Any]) -> list[np.ndarray]:
        """Numpy copies of the framework's arrays, refused unless every one is float64."""
        arrays = [self.numpy(v) for v in values]
        check_float64(f"{self.name} layer reference", arrays)
        return arrays


@contextmanager
def session(framework: str) -> Iterator[Backend]:
    """The backend of ``framework``, valid inside the ``with`` block."""
    if framework == "numpy":
        yield _numpy_backend()
    elif framework == "torch":
        torch = _import("torch", "pip install torch==2.13.0 array-api-compat")
        threads = torch.get_num_threads()
        # tensors this small only make intra-op threads wait for each other
        torch.set_num_threads(1)
        try:
            yield _torch_backend(torch)
        finally:
            torch.set_num_threads(threads)
    elif framework == "jax":
        jax = _import("jax", "pip install jax")
        with jax.enable_x64(True):
            yield _jax_backend(jax)
    else:
        raise DeltacheckError(f"unknown framework {framework!r}; choose from "
                              f"{', '.join(FRAMEWORKS)}")


def _import(module: str, hint: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise OracleUnavailable(f"the {module} layer reference needs {module} ({exc}): "
                                f"{hint}") from None


def _check_dout(out: Any, dout: np.ndarray) -> None:
    if tuple(out.shape) != dout.shape:
        raise DeltacheckError(f"dout has shape {dout.shape}, but the layer's output has shape "
                              f"{tuple(out.shape)}; a loss takes dout = 1.0")


def _numpy_backend() -> Backend:
    return Backend("numpy", np, array=lambda v: np.array(v, dtype=np.float64),
                   index=np.asarray, numpy=np.asarray, log_softmax=definitions.numpy_log_softmax,
                   native={"conv": definitions.numpy_conv})


def _torch_backend(torch: Any) -> Backend:
    array_api_compat = _import("array_api_compat", "pip install array-api-compat")
    F = torch.nn.functional

    def conv(be: Any, x: Any, w: Any, b: Any, conv_param: dict[str, Any]) -> tuple[Any, dict]:
        return F.conv2d(x, w, b, stride=conv_param["stride"], padding=conv_param["pad"]), {}

    def layernorm(be: Any, x: Any, gamma: Any, beta: Any, ln_param: dict) -> tuple[Any, dict]:
        return F.layer_norm(x, (x.shape[1],), gamma, beta, eps=ln_param.get("eps", 1e-5)), {}

    def groupnorm(be: Any, x: Any, gamma: Any, beta: Any, G: int,
                  gn_param: dict) -> tuple[Any, dict]:
        C = x.shape[1]
        return F.group_norm(x, G, gamma.reshape(C), beta.reshape(C),
                            eps=gn_param.get("eps", 1e-5)), {}

    def softmax_loss(be: Any, x: Any, y: Any) -> tuple[Any, dict]:
        return F.cross_entropy(x, y, reduction="mean"), {}

    def vjp(fn: Callable[..., Any], inputs: Sequence[Any], dout: np.ndarray) -> list[Any]:
        leaves = [v.detach().clone().requires_grad_() for v in inputs]
        out = fn(*leaves)
        _check_dout(out, dout)
        grads = torch.autograd.grad(out, leaves, grad_outputs=torch.from_numpy(dout),
                                    allow_unused=True)
        return [torch.zeros_like(v) if g is None else g for g, v in zip(grads, leaves, strict=True)]

    def vjp_many(fn: Callable[..., Any], inputs: Sequence[Any], douts: np.ndarray) -> list[Any]:
        def one(*args: Any) -> Any:
            return torch.func.vjp(fn, *args[:-1])[1](args[-1])
        return list(torch.func.vmap(one)(*inputs, torch.from_numpy(douts)))

    return Backend(
        "torch", array_api_compat.array_namespace(torch.zeros(1, dtype=torch.float64)),
        array=lambda v: torch.tensor(np.asarray(v), dtype=torch.float64),
        index=lambda v: torch.tensor(np.asarray(v), dtype=torch.int64),
        numpy=lambda v: v.detach().numpy().copy(),
        log_softmax=lambda x: torch.log_softmax(x, dim=1),
        native={"conv": conv, "layernorm": layernorm, "spatial_groupnorm": groupnorm,
                "softmax_loss": softmax_loss},
        vjp=vjp, vjp_many=vjp_many)


def _jax_backend(jax: Any) -> Backend:
    jnp = jax.numpy

    def conv(be: Any, x: Any, w: Any, b: Any, conv_param: dict[str, Any]) -> tuple[Any, dict]:
        stride, pad = conv_param["stride"], conv_param["pad"]
        out = jax.lax.conv_general_dilated(
            x, w, window_strides=(stride, stride), padding=((pad, pad), (pad, pad)),
            dimension_numbers=("NCHW", "OIHW", "NCHW"), precision=jax.lax.Precision.HIGHEST)
        return out + b[None, :, None, None], {}

    def vjp(fn: Callable[..., Any], inputs: Sequence[Any], dout: np.ndarray) -> list[Any]:
        out, pullback = jax.vjp(fn, *inputs)
        _check_dout(out, dout)
        return list(pullback(jnp.asarray(dout, dtype=jnp.float64)))

    def vjp_many(fn: Callable[..., Any], inputs: Sequence[Any], douts: np.ndarray) -> list[Any]:
        def one(*args: Any) -> Any:
            return jax.vjp(fn, *args[:-1])[1](args[-1])
        return list(jax.vmap(one)(*inputs, jnp.asarray(douts, dtype=jnp.float64)))

    return Backend(
        "jax", jnp,
        array=lambda v: jnp.asarray(np.asarray(v), dtype=jnp.float64),
        index=lambda v: jnp.asarray(np.asarray(v), dtype=jnp.int64),
        numpy=lambda v: np.array(v),
        log_softmax=lambda x: jax.nn.log_softmax(x, axis=1),
        native={"conv": conv}, vjp=vjp, vjp_many=vjp_many)
