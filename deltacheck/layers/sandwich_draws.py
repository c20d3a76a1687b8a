"""Drawn inputs of the sandwich layers: the first stage's shapes as its own kind draws them, then
what the later stages need for the shape the first one gives (γ and β per feature or channel, a
pooling window that fits the convolution's output)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from deltacheck.oracles.layers.kinds import SANDWICHES


def conv_geometry(draw: Any) -> tuple[int, int, int, int, int, int, int, int]:
    """A small convolution's C, F, HH, WW, H, W, stride and pad, for the conv kinds alone and
    inside sandwiches: (H + 2 pad − HH) a multiple of the stride, as the course asserts."""
    C, F = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    HH, WW, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    pad = draw(st.integers(0, 2))
    H_out, W_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H = max((H_out - 1) * stride + HH - 2 * pad, 1)
    W = max((W_out - 1) * stride + WW - 2 * pad, 1)
    H += (-(H + 2 * pad - HH)) % stride
    W += (-(W + 2 * pad - WW)) % stride
    return C, F, HH, WW, H, W, stride, pad


def _bn_param(draw: Any, rng: np.random.Generator, C: int) -> dict[str, Any]:
    param: dict[str, Any] = {"mode": draw(st.sampled_from(["train", "train", "test"])),
                             "eps": draw(st.sampled_from([1e-5, 1e-3])),
                             "momentum": draw(st.sampled_from([0.9, 0.8]))}
    if draw(st.booleans()):
        param["running_mean"] = rng.standard_normal(C)
        param["running_var"] = rng.uniform(0.5, 2.0, C)
    return param


@st.composite
def sandwich_inputs(draw: Any, name: str, rng: np.random.Generator,
                    N: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Inputs and params of the sandwich ``name`` with consistent shapes."""
    stages = [stage for stage, _, _ in SANDWICHES[name]]
    params: dict[str, Any] = {}
    if stages[0] == "affine":
        trailing = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
        # a layer norm of one feature is β whatever x: its gradient is rounding noise
        D, M = int(np.prod(trailing)), draw(st.integers(2 if "layernorm" in stages else 1, 4))
        inputs = {"x": rng.standard_normal((N, *trailing)), "w": rng.standard_normal((D, M)),
                  "b": rng.standard_normal(M)}
        channels = M
    else:
        C, F, HH, WW, H, W, stride, pad = conv_geometry(draw)
        inputs = {"x": rng.standard_normal((min(N, 2), C, H, W)),
                  "w": rng.standard_normal((F, C, HH, WW)), "b": rng.standard_normal(F)}
        params["conv_param"] = {"stride": stride, "pad": pad}
        channels = F
        if "max_pool" in stages:
            H_conv, W_conv = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
            params["pool_param"] = {"pool_height": draw(st.integers(1, H_conv)),
                                    "pool_width": draw(st.integers(1, W_conv)),
                                    "stride": draw(st.integers(1, 2))}
    if "batchnorm" in stages or "spatial_batchnorm" in stages:
        params["bn_param"] = _bn_param(draw, rng, channels)
    if "layernorm" in stages:
        params["ln_param"] = {"eps": draw(st.sampled_from([1e-5, 1e-3]))}
    if len(SANDWICHES[name][1][1]):  # γ and β of the norm
        inputs |= {"gamma": rng.standard_normal(channels), "beta": rng.standard_normal(channels)}
    return inputs, params
