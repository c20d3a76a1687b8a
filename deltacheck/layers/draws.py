"""Drawn layer cases: consistent shapes, hyperparameters, inputs and ``dout``, and the hard regions.

Hypothesis draws the shapes, the hyperparameters, the region and a numpy seed (so every draw
shrinks: N to 1, kernels to 1×1, the region to "plain"); the arrays come from that seed. The
regions are where layer bugs hide:

| region | what it draws |
|---|---|
| ``plain`` | standard normal inputs |
| ``noncontiguous`` | the same, passed as Fortran-ordered or strided views |
| ``near_constant`` | norms: a column (or group) within 1e-4 of a constant, or exactly constant |
| ``at_kink`` | relu-like activations: entries exactly at and next to the kink |
| ``ties`` | max pooling: windows with tied maxima (not judged there) |
| ``huge`` | losses: logits of size 1e3; svm: margins of exactly 0 |

The recurrent kinds' regions (``saturated``, ``long``, ``repeated``, ``masked``) are in
``recurrent_draws``. Max pooling away from the ``ties`` region draws well separated values, so
a tie never decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

from deltacheck.core import activations as registry
from deltacheck.layers import recurrent_draws
from deltacheck.layers.sandwich_draws import conv_geometry, sandwich_inputs
from deltacheck.oracles.layers import Kind, get_kind
from deltacheck.oracles.layers.kinds import SANDWICHES


@dataclass(frozen=True)
class LayerCase:
    """One drawn case: inputs and the course-style params, the dtype, dout's seed, the region."""

    kind: str
    dtype: str
    inputs: dict[str, np.ndarray]
    params: dict[str, Any]
    seed: int
    region: str = "plain"
    train_first: bool = False  # batch norm in test mode: the running stats a train step left
    notes: dict[str, Any] = field(default_factory=dict)

    def shapes(self) -> dict[str, list[int]]:
        """The input shapes, for the report's "minimal shapes"."""
        return {name: list(v.shape) for name, v in self.inputs.items()}

    def settings(self) -> dict[str, Any]:
        """The hyperparameters, JSON-ready (arrays left out)."""
        def plain(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items() if not isinstance(x, np.ndarray)}
            return v.tolist() if isinstance(v, np.ndarray) else v
        return {k: plain(v) for k, v in self.params.items() if k not in ("y", "x", "mask")}

    def describe(self) -> str:
        """One line: shapes, hyperparameters, region and dtype."""
        shapes = ", ".join(f"{k} {tuple(s)}" for k, s in self.shapes().items())
        settings = ", ".join(f"{k}={v}" for k, v in self.settings().items())
        # the words of an embedding and a loss's mask decide what a slip there shows
        shown = ", ".join(f"{k}={np.asarray(self.params[k]).astype(int).tolist()}"
                          for k in ("x", "mask") if k in self.params)
        settings = ", ".join(filter(None, (settings, shown)))
        return f"{shapes}" + (f"; {settings}" if settings else "") + \
            f"; {self.region}; {self.dtype}"


def _normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape)


def _norm_param(draw: Any, rng: np.random.Generator, C: int, batch: bool) -> dict[str, Any]:
    param: dict[str, Any] = {"eps": draw(st.sampled_from([1e-5, 1e-3]))}
    if batch:
        param["mode"] = draw(st.sampled_from(["train", "test"]))
        param["momentum"] = draw(st.sampled_from([0.9, 0.8]))
        if draw(st.booleans()):
            param["running_mean"] = rng.standard_normal(C)
            param["running_var"] = rng.uniform(0.5, 2.0, C)
    return param


def _near_constant(x: np.ndarray, rng: np.random.Generator, axis: int) -> np.ndarray:
    """x with one slice along ``axis`` nearly constant (variance ≈ eps), or exactly constant."""
    x = x.copy()
    index: list[Any] = [slice(None)] * x.ndim
    index[axis] = 0
    spread = rng.choice([0.0, 1e-4])
    x[tuple(index)] = rng.standard_normal() + spread * rng.standard_normal(x[tuple(index)].shape)
    return x


def _separated(rng: np.random.Generator, shape: tuple[int, ...], ties: bool) -> np.ndarray:
    """Values at least 0.1 apart (a permutation), or with ties on purpose."""
    size = int(np.prod(shape))
    values = (rng.permutation(size) - size / 2) * 0.25 + rng.uniform(-0.05, 0.05, size)
    if ties:
        values = np.round(values)  # multiples of 1: many windows tie
    return values.reshape(shape)


@st.composite
def _shapes_and_params(draw: Any, kind: Kind, rng: np.random.Generator,
                       region: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    if kind.dims:
        return draw(_declared(kind, rng))
    N = draw(st.integers(1, 4))
    name = kind.name
    if name in recurrent_draws.REGIONS or name == "temporal_affine":
        return draw(recurrent_draws.recurrent_inputs(name, rng, region, N))
    if name in SANDWICHES:
        return draw(sandwich_inputs(name, rng, N))
    if kind.activation is not None:
        shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
        x = _normal(rng, (N, *shape[1:]))
        kinks = tuple(getattr(registry.get(kind.activation), "kinks", None) or ())
        if region == "at_kink" and kinks:
            flat = x.reshape(-1)
            flat[::2] = kinks[0] + rng.choice([0.0, 1e-12, -1e-12, 1e-7], flat[::2].shape)
        return {"x": x}, {}
    if name == "affine":
        trailing = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
        D, M = int(np.prod(trailing)), draw(st.integers(1, 4))
        return {"x": _normal(rng, (N, *trailing)), "w": _normal(rng, (D, M)),
                "b": _normal(rng, (M,))}, {}
    if name in ("batchnorm", "layernorm"):
        # a layer norm of one feature is β whatever x: its gradient is rounding noise
        D = draw(st.integers(1 if name == "batchnorm" else 2, 5))
        x = _normal(rng, (N, D)) * draw(st.sampled_from([1.0, 10.0]))
        if region == "near_constant":
            x = _near_constant(x, rng, axis=1 if name == "batchnorm" else 0)
        inputs = {"x": x, "gamma": _normal(rng, (D,)), "beta": _normal(rng, (D,))}
        key = "bn_param" if name == "batchnorm" else "ln_param"
        return inputs, {key: _norm_param(draw, rng, D, batch=name == "batchnorm")}
    if name == "dropout":
        x = _normal(rng, (N, draw(st.integers(1, 6))))
        x[x == 0] = 1.0  # the mask is read from the output: no exact zeros
        param = {"p": draw(st.sampled_from([0.3, 0.5, 0.8, 1.0])),
                 "mode": draw(st.sampled_from(["train", "train", "test"])),
                 "seed": draw(st.integers(0, 2**16))}
        return {"x": x}, {"dropout_param": param}
    if name == "conv":
        C, F, HH, WW, H, W, stride, pad = conv_geometry(draw)
        return ({"x": _normal(rng, (min(N, 2), C, H, W)), "w": _normal(rng, (F, C, HH, WW)),
                 "b": _normal(rng, (F,))}, {"conv_param": {"stride": stride, "pad": pad}})
    if name == "max_pool":
        C, ph, pw = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
        stride = draw(st.integers(1, 3))
        H_out, W_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        shape = (min(N, 2), C, (H_out - 1) * stride + ph, (W_out - 1) * stride + pw)
        return ({"x": _separated(rng, shape, ties=region == "ties")},
                {"pool_param": {"pool_height": ph, "pool_width": pw, "stride": stride}})
    if name in ("spatial_batchnorm", "spatial_groupnorm"):
        G = draw(st.integers(1, 3)) if name == "spatial_groupnorm" else 1
        C = G * draw(st.integers(1, 2)) if G > 1 else draw(st.integers(1, 3))
        H, W = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        if name == "spatial_groupnorm" and (C // G) * H * W == 1:
            W = 2  # torch's group_norm refuses a group of one value
        x = _normal(rng, (N, C, H, W))
        if region == "near_constant":
            x = _near_constant(x, rng, axis=1 if name == "spatial_batchnorm" else 0)
        if name == "spatial_batchnorm":
            return ({"x": x, "gamma": _normal(rng, (C,)), "beta": _normal(rng, (C,))},
                    {"bn_param": _norm_param(draw, rng, C, batch=True)})
        return ({"x": x, "gamma": _normal(rng, (1, C, 1, 1)), "beta": _normal(rng, (1, C, 1, 1))},
                {"G": G, "gn_param": {"eps": draw(st.sampled_from([1e-5, 1e-3]))}})
    # softmax_loss, svm_loss
    C = draw(st.integers(2, 5))
    x = np.round(_normal(rng, (N, C)) * 8) / 8  # multiples of 1/8: margins are exact
    y = rng.integers(0, C, N)
    if region == "huge":
        x = x * 1e3
        if name == "svm_loss":  # a margin of exactly 0: x_j = x_y - 1
            x[0, (y[0] + 1) % C] = x[0, y[0]] - 1.0
    return {"x": x}, {"y": y}


@st.composite
def _declared(draw: Any, kind: Kind, rng: np.random.Generator
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A declared kind's inputs: each symbol of its signature drawn once, each param chosen."""
    spans = dict(kind.sizes)
    size: dict[str, int] = {}
    for _, dims in kind.dims:
        for d in dims:
            if isinstance(d, str) and d not in size:
                size[d] = draw(st.integers(*spans.get(d, (1, 4))))
    inputs = {name: _normal(rng, tuple(size[d] if isinstance(d, str) else d for d in dims))
              for name, dims in kind.dims}
    return inputs, {name: draw(st.sampled_from(values)) for name, values in kind.choices}


REGIONS: dict[str, tuple[str, ...]] = {
    "relu": ("at_kink",), "batchnorm": ("near_constant",), "layernorm": ("near_constant",),
    "spatial_batchnorm": ("near_constant",), "spatial_groupnorm": ("near_constant",),
    "max_pool": ("ties",), "softmax_loss": ("huge",), "svm_loss": ("huge",),
    **recurrent_draws.REGIONS,
}


def regions(kind: Kind) -> tuple[str, ...]:
    """The regions drawn for ``kind``: plain first (so a failure shrinks to it), then the hard."""
    hard = REGIONS.get(kind.name, ())
    if kind.activation is not None and getattr(registry.get(kind.activation), "kinks", None):
        hard = ("at_kink",)
    return ("plain", "noncontiguous", *hard)


def _noncontiguous(v: np.ndarray) -> np.ndarray:
    """The same values in a non-C-contiguous array: Fortran order, or a strided view for 1-D."""
    if v.ndim >= 2 and v.size > 1:
        return np.asfortranarray(v)
    wide = np.zeros(2 * v.size, dtype=v.dtype)
    wide[::2] = v.reshape(-1)
    return wide[::2].reshape(v.shape)


@st.composite
def layer_cases(draw: Any, kind: str | Kind, *, dtype: str = "float64") -> LayerCase:
    """A Hypothesis strategy for cases of ``kind`` (``"conv"``, ``"act:tanh"``, ...)."""
    k = get_kind(kind)
    region = draw(st.sampled_from(regions(k)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    inputs, params = draw(_shapes_and_params(k, rng, region))
    inputs = {name: v.astype(dtype) for name, v in inputs.items()}
    if region == "noncontiguous":
        inputs = {name: _noncontiguous(v) for name, v in inputs.items()}
    params = {name: _typed(v, dtype) for name, v in params.items()}
    mode = params.get("bn_param", {}).get("mode")
    train_first = "bn_param" in k.params and mode == "test"
    return LayerCase(k.name, dtype, inputs, params, seed, region, train_first)


def _typed(value: Any, dtype: str) -> Any:
    if isinstance(value, dict):
        return {k: _typed(v, dtype) for k, v in value.items()}
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return value.astype(dtype)
    return value
