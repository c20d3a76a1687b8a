"""The jax VJP of a layer reference compiled once per kind, shapes and settings: the gradients
of torch autograd of the same reference (op by op, jax gave them too: it is slow to compile),
one compiled function per key (settings included), and a forward that reads a traced value
skipped by jax with its reason."""

from __future__ import annotations

import numpy as np
import pytest

from deltacheck.oracles.layers import backends, get_kind, jitted, vjp

pytest.importorskip("jax")


def _eager(kind, inputs, params, dout):
    from deltacheck.oracles.layers import _checked, _definition

    k = get_kind(kind)
    values, settings = _checked(k, inputs, params)
    with backends.session("jax") as be:
        converted = [be.convert(p) for p in settings]
        fn = _definition(k, be)
        grads = be.vjp(lambda *xs: fn(*xs, *converted)[0], [be.array(v) for v in values],
                       np.asarray(dout, dtype=np.float64))
        return dict(zip(k.grads, be.outputs(grads), strict=True))


@pytest.mark.parametrize("kind, inputs, params", [
    ("spatial_groupnorm", {"x": (2, 4, 2, 3), "gamma": (1, 4, 1, 1), "beta": (1, 4, 1, 1)},
     {"G": 2, "gn_param": {"eps": 1e-5}}),
    ("batchnorm", {"x": (5, 3), "gamma": (3,), "beta": (3,)}, {"bn_param": {"mode": "train"}}),
    ("conv", {"x": (2, 2, 5, 5), "w": (3, 2, 3, 3), "b": (3,)},
     {"conv_param": {"stride": 2, "pad": 1}}),
    ("max_pool", {"x": (2, 2, 4, 4)},
     {"pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2}}),
])
def test_compiled_gives_torchs_gradients_and_is_kept_per_key(kind, inputs, params):
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = {n: rng.standard_normal(s) for n, s in inputs.items()}
    from deltacheck.oracles.layers import forward
    dout = rng.standard_normal(np.shape(forward(kind, "numpy", arrays, params)[0]))
    jitted._COMPILED.clear()
    got = vjp(kind, "jax", arrays, params, dout)
    want = vjp(kind, "torch", arrays, params, dout)
    for g in want:
        np.testing.assert_allclose(got[g], want[g], rtol=1e-10, atol=1e-12)
    assert len(jitted._COMPILED) == 1
    vjp(kind, "jax", {n: v + 1 for n, v in arrays.items()}, params, dout)  # same shapes
    assert len(jitted._COMPILED) == 1
    bigger = {n: np.concatenate([v, v]) if n == "x" else v for n, v in arrays.items()}
    dout2 = np.concatenate([dout, dout])
    vjp(kind, "jax", bigger, params, dout2)  # new shapes: compiled again
    assert len(jitted._COMPILED) == 2


def test_other_settings_are_another_program():
    rng = np.random.default_rng(1)
    arrays = {"x": rng.standard_normal((4, 3)), "gamma": rng.standard_normal(3),
              "beta": rng.standard_normal(3)}
    dout = rng.standard_normal((4, 3))
    jitted._COMPILED.clear()
    a = vjp("layernorm", "jax", arrays, {"ln_param": {"eps": 1e-5}}, dout)
    b = vjp("layernorm", "jax", arrays, {"ln_param": {"eps": 10.0}}, dout)
    assert len(jitted._COMPILED) == 2 and not np.allclose(a["dx"], b["dx"])
    np.testing.assert_allclose(b["dx"], _eager("layernorm", arrays, {"ln_param": {"eps": 10.0}},
                                               dout)["dx"], rtol=1e-12)


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")
def test_a_forward_that_reads_a_traced_value_is_skipped_by_jax_with_the_reason():
    pytest.importorskip("torch")
    import deltacheck

    def forward(x, xp):
        scale = 2.0 if float(xp.sum(x * x)) > 0 else 1.0  # Python reads a value: no tracing
        return scale * xp.tanh(x)

    def backward(dout, cache):
        (x,) = cache[:1]
        return (dout * 2.0 * (1 - np.tanh(x) ** 2),)

    layer = deltacheck.Layer("scaled_tanh_by_value", forward=forward, inputs={"x": ("N", "D")},
                             backward=backward)
    result = deltacheck.check_layer(layer, examples=5, seed=0, oracles=("torch", "jax"))
    record = result.document["layers"][0]
    assert result.verdict == "pass" and record["judged_by"] == {"torch": 5}, record
    assert "ConcretizationTypeError" in record["oracles_skipped"]["jax"]
