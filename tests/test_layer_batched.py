"""vjp_many: the VJPs of many cases of one shape in one vmapped call equal one vjp call per case."""

from __future__ import annotations

import numpy as np
import pytest

from deltacheck.oracles import unavailable_reason
from deltacheck.oracles.layers import forward, vjp, vjp_many

CASES = [("affine", {"x": (3, 2, 2), "w": (4, 3), "b": (3,)}, {}),
         ("batchnorm", {"x": (4, 3), "gamma": (3,), "beta": (3,)}, {"bn_param": {"mode": "train"}}),
         ("conv_relu_pool", {"x": (2, 2, 5, 5), "w": (3, 2, 3, 3), "b": (3,)},
          {"conv_param": {"stride": 1, "pad": 1},
           "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 1}}),
         ("softmax_loss", {"x": (4, 5)}, {"y": np.array([0, 4, 2, 2])})]
FRAMEWORKS = [pytest.param(name, marks=pytest.mark.skipif(unavailable_reason(name) is not None,
                                                          reason=str(unavailable_reason(name))))
              for name in ("torch", "jax")]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize(("kind", "shapes", "params"), CASES)
def test_one_batched_call_equals_one_call_per_case(kind, shapes, params, framework, rng):
    B = 4
    inputs = {n: rng.standard_normal((B, *s)) for n, s in shapes.items()}
    out, _ = forward(kind, "numpy", {n: v[0] for n, v in inputs.items()}, params)
    douts = rng.standard_normal((B, *np.shape(out)))
    many = vjp_many(kind, framework, inputs, params, douts)
    for i in range(B):
        one = vjp(kind, framework, {n: v[i] for n, v in inputs.items()}, params, douts[i])
        for name, value in one.items():
            assert many[name].shape == (B, *value.shape)
            np.testing.assert_allclose(many[name][i], value, rtol=1e-13, atol=1e-13)
    # the comparison has teeth: the cases' upstream gradients in another order differ
    if np.ndim(out):
        other = vjp_many(kind, framework, inputs, params, douts[::-1])
        assert not np.allclose(other[next(iter(other))], many[next(iter(many))])
