"""Reference forwards of the course's layer kinds in numpy, torch and jax, and their VJPs.

| kind | inputs | params | backward returns |
|---|---|---|---|
| ``affine`` | x (N, d1, …, dk), w (D, M), b (M,) | – | dx, dw, db |
| ``relu``, ``act:NAME`` | x, any shape | – | dx |
| ``batchnorm`` | x (N, D), gamma (D,), beta (D,) | bn_param | dx, dgamma, dbeta |
| ``layernorm`` | x (N, D), gamma (D,), beta (D,) | ln_param | dx, dgamma, dbeta |
| ``dropout`` | x | dropout_param (and ``mask``) | dx |
| ``conv`` | x (N, C, H, W), w (F, C, HH, WW), b (F,) | conv_param | dx, dw, db |
| ``max_pool`` | x (N, C, H, W) | pool_param | dx |
| ``spatial_batchnorm`` | x (N, C, H, W), gamma (C,), beta (C,) | bn_param | dx, dgamma, dbeta |
| ``spatial_groupnorm`` | x (N, C, H, W), gamma, beta (1, C, 1, 1) | G, gn_param | dx, dgamma, dbeta |
| ``softmax_loss``, ``svm_loss`` | x (N, C) | y (N,) integer labels | dx (with the loss) |
| ``rnn_step`` | x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,) | – | dx, dprev_h, dWx, dWh, db |
| ``rnn`` | x (N, T, D), h0 (N, H), Wx, Wh, b | – | dx, dh0, dWx, dWh, db |
| ``lstm_step`` | x, prev_h, prev_c (N, H), Wx (D, 4H), Wh (H, 4H), b | – | dx, dprev_h, dprev_c, … |
| ``lstm`` | x (N, T, D), h0, Wx (D, 4H), Wh, b | – | dx, dh0, dWx, dWh, db |
| ``word_embedding`` | W (V, D) | x (N, T) integer words, called first | dW |
| ``temporal_affine`` | x (N, T, D), w (D, M), b (M,) | – | dx, dw, db |
| ``temporal_softmax_loss`` | x (N, T, V) | y (N, T) integer labels, mask (N, T) | dx (with the loss) |

``bn_param`` holds ``mode`` ("train" or "test") and optionally ``eps`` (1e-5), ``momentum``
(0.9), ``running_mean`` and ``running_var`` (zeros when absent); ``forward`` returns the new
running statistics in ``extras`` and never changes the caller's dict. The dropout reference
never draws its mask: ``params["mask"]`` is the scaled mask (0 or 1/p) the user's forward
drew, which ``dropout_mask`` reads back from its output. Max pooling sends each window's
gradient to its first maximal element in row-major order (see ``definitions``).

The sandwich layers (``affine_relu``, ``affine_bn_relu``, ``affine_ln_relu``, ``conv_relu``,
``conv_relu_pool``, ``conv_bn_relu``) compose the kinds above in turn (see ``sandwich``).
lstm_step's two outputs come stacked as one (2, N, H) ``out`` (see ``recurrent``).
Every output is float64; torch and jax are imported only when asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np

from deltacheck.core.errors import DeltacheckError
from deltacheck.oracles.base import OracleUnavailable
from deltacheck.oracles.layers import definitions, jitted, recurrent, sandwich
from deltacheck.oracles.layers.backends import FRAMEWORKS, Backend, session
from deltacheck.oracles.layers.kinds import KINDS, Kind, declared, get_kind


def forward(kind: str | Kind, framework: str, inputs: Mapping[str, Any],
            params: Mapping[str, Any]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The reference output of ``kind`` in ``framework``, and its extras (running statistics)."""
    k = get_kind(kind)
    values, settings = _checked(k, inputs, params)
    with session(framework) as be:
        out, extras = _definition(k, be)(*[be.array(v) for v in values],
                                         *[be.convert(p) for p in settings])
        arrays = be.outputs([out, *extras.values()])
    return arrays[0], dict(zip(extras, arrays[1:], strict=True))


def vjp(kind: str | Kind, framework: str, inputs: Mapping[str, Any], params: Mapping[str, Any],
        dout: Any = 1.0) -> dict[str, np.ndarray]:
    """The gradients (``dx``, ``dw``, …) of ⟨dout, out⟩ by torch autograd or ``jax.vjp``.

    For a loss kind ``dout`` is the scalar 1 and the result is the gradient of the loss.
    """
    k = get_kind(kind)
    values, settings = _checked(k, inputs, params)
    dout = np.array(dout, dtype=np.float64)
    with session(framework) as be:
        if be.vjp is None:
            raise DeltacheckError(f"framework={framework!r} has no autograd; the VJP comes "
                                  "from 'torch' or 'jax'")
        converted = [be.convert(p) for p in settings]
        fn = _definition(k, be)

        def out(*xs: Any) -> Any:
            return fn(*xs, *converted)[0]

        if be.name == "jax":  # compiled once per shape: op by op, jax compiles every primitive
            grads = jitted.vjp(k, be, out, values, settings, dout)
        else:
            grads = be.vjp(out, [be.array(v) for v in values], dout)
        arrays = be.outputs(grads)
    return dict(zip(k.grads, arrays, strict=True))


def vjp_many(kind: str | Kind, framework: str, inputs: Mapping[str, Any],
             params: Mapping[str, Any], douts: Any) -> dict[str, np.ndarray]:
    """The VJPs of B cases of one shape and one set of params in a single vectorised call
    (``torch.func.vmap`` or ``jax.vmap`` of the same reference): ``inputs[name]`` and ``douts``
    carry the B cases along a new leading axis, and so do the gradients."""
    k = get_kind(kind)
    _checked(k, {n: np.asarray(v)[0] for n, v in inputs.items()}, params)
    values = [np.array(inputs[name], dtype=np.float64) for name in k.inputs]
    settings = [_parameter(name, params[name]) for name in k.params + k.reference_params]
    with session(framework) as be:
        converted = [be.convert(p) for p in settings]
        fn = _definition(k, be)

        def out(*xs: Any) -> Any:
            return fn(*xs, *converted)[0]

        if be.vjp_many is None:
            raise DeltacheckError(f"framework={framework!r} has no autograd; the VJP comes "
                                  "from 'torch' or 'jax'")
        grads = be.vjp_many(out, [be.array(v) for v in values], np.array(douts, dtype=np.float64))
        arrays = be.outputs(list(grads))
    return dict(zip(k.grads, arrays, strict=True))


def dropout_mask(x: np.ndarray, out: np.ndarray, dropout_param: Mapping[str, Any]) -> np.ndarray:
    """The scaled mask (1/p where kept, 0 where dropped) that a dropout forward applied to x."""
    x = np.asarray(x)
    if dropout_param["mode"] != "train":
        return np.ones(x.shape)
    if np.any(x == 0):  # there a kept entry and a dropped one give the same output
        raise DeltacheckError("dropout_mask: x has exact zeros, where the mask cannot be read "
                              "from the output; draw x without zeros")
    return np.where(np.asarray(out) != 0, 1.0 / dropout_param["p"], 0.0)


def _definition(kind: Kind, be: Backend) -> Any:
    """The forward of ``kind`` in ``be``: native where the framework matches the course."""
    if kind.forwards:
        fn = kind.reference(be.name)
        if fn is None:
            raise OracleUnavailable(f"{kind.name} has no {be.name} forward to differentiate")
        return lambda *args: (fn(be, *args), {})
    if kind.activation is not None:
        return partial(definitions.elementwise, be, activation=kind.activation)
    return partial(be.native.get(kind.name) or definitions.GENERIC.get(kind.name)
                   or sandwich.GENERIC.get(kind.name) or recurrent.GENERIC[kind.name], be)


def _checked(kind: Kind, inputs: Mapping[str, Any],
             params: Mapping[str, Any]) -> tuple[list[np.ndarray], list[Any]]:
    """The inputs as float64 arrays and the params in call order; a missing one is an error."""
    wanted = kind.params + kind.reference_params
    _check_names(kind, "inputs", inputs, kind.inputs)
    _check_names(kind, "params", params, wanted)
    values = [np.array(inputs[name], dtype=np.float64) for name in kind.inputs]
    return values, [_parameter(name, params[name]) for name in wanted]


def call_settings(kind: Kind, params: Mapping[str, Any]) -> list[Any]:
    """The params of ``kind`` (its reference params included) in call order, checked and copied."""
    wanted = kind.params + kind.reference_params
    _check_names(kind, "params", params, wanted)
    return [_parameter(name, params[name]) for name in wanted]


def _check_names(kind: Kind, what: str, given: Mapping[str, Any], names: tuple[str, ...]) -> None:
    missing = [name for name in names if name not in given]
    unknown = [name for name in given if name not in names]
    if missing or unknown:
        problems = ([f"missing {', '.join(missing)}"] if missing else []) + \
                   ([f"unknown {', '.join(unknown)}"] if unknown else [])
        raise DeltacheckError(f"{kind.name} {what}: {'; '.join(problems)} "
                              f"(it takes {', '.join(names) or 'none'})")


def _parameter(name: str, value: Any) -> Any:
    """A copy of a parameter: labels as integers, arrays (masks, statistics) as float64."""
    if name in ("y", "x"):  # x: a parameter only as word_embedding's integer words
        y = np.asarray(value)
        if not np.issubdtype(y.dtype, np.integer):
            what = "class labels" if name == "y" else "word indices"
            raise DeltacheckError(f"{name} must hold integer {what}, got dtype {y.dtype}")
        return y
    if name == "mode" and value not in ("train", "test"):
        raise DeltacheckError(f"mode={value!r}: choose 'train' or 'test'")
    if isinstance(value, Mapping):
        return {key: _parameter(key, v) for key, v in value.items()}
    if isinstance(value, (np.ndarray, list)):
        return np.array(value, dtype=np.float64)
    return value


__all__ = ["FRAMEWORKS", "KINDS", "Kind", "call_settings", "declared", "dropout_mask", "forward",
           "get_kind", "vjp", "vjp_many"]
