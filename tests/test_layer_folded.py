"""The numpy reference on many copies of one input in one call (``oracles.layers.folded``): the
same outputs as one call per copy for every kind and input it folds, central differences of the
reference that agree with torch's VJP, and the groups of the NaN probes in one call the same as
those of one probe per entry."""

from __future__ import annotations

import numpy as np
import pytest

from deltacheck.layers import grouping
from deltacheck.layers.draws import LayerCase
from deltacheck.oracles.layers import folded, forward, get_kind, vjp


def _cases():
    rng = np.random.default_rng(0)
    bn = {"mode": "train", "running_mean": rng.standard_normal(3), "running_var": rng.random(3)}
    return [
        ("affine", {"x": rng.standard_normal((3, 2, 2)), "w": rng.standard_normal((4, 3)),
                    "b": rng.standard_normal(3)}, {}),
        ("batchnorm", {"x": rng.standard_normal((5, 3)), "gamma": rng.standard_normal(3),
                       "beta": rng.standard_normal(3)}, {"bn_param": bn}),
        ("batchnorm", {"x": rng.standard_normal((5, 3)), "gamma": rng.standard_normal(3),
                       "beta": rng.standard_normal(3)}, {"bn_param": {**bn, "mode": "test"}}),
        ("spatial_batchnorm", {"x": rng.standard_normal((2, 3, 3, 3)),
                               "gamma": rng.standard_normal(3), "beta": rng.standard_normal(3)},
         {"bn_param": {"mode": "train"}}),
        ("layernorm", {"x": rng.standard_normal((4, 5)), "gamma": rng.standard_normal(5),
                       "beta": rng.standard_normal(5)}, {"ln_param": {}}),
        ("conv", {"x": rng.standard_normal((2, 3, 5, 5)), "w": rng.standard_normal((4, 3, 3, 3)),
                  "b": rng.standard_normal(4)}, {"conv_param": {"stride": 2, "pad": 1}}),
        ("max_pool", {"x": rng.standard_normal((2, 2, 5, 5))},
         {"pool_param": {"pool_height": 3, "pool_width": 3, "stride": 2}}),
        ("spatial_groupnorm", {"x": rng.standard_normal((2, 4, 3, 3)),
                               "gamma": rng.standard_normal((1, 4, 1, 1)),
                               "beta": rng.standard_normal((1, 4, 1, 1))},
         {"G": 2, "gn_param": {}}),
        ("relu", {"x": rng.standard_normal((3, 4))}, {}),
        ("dropout", {"x": rng.standard_normal((3, 4))},
         {"dropout_param": {"p": 0.5, "mode": "train", "seed": 1},
          "mask": (rng.random((3, 4)) < 0.5) * 2.0}),
    ]


@pytest.mark.parametrize("kind, inputs, params", _cases(), ids=lambda v: str(v)[:18])
def test_copies_side_by_side_give_what_one_call_each_gives(kind, inputs, params):
    rng = np.random.default_rng(1)
    folds = 0
    for name, x in inputs.items():
        if not folded.foldable(kind, name, x.shape):
            with pytest.raises(ValueError, match="no one axis"):
                folded.forward_many(kind, inputs, params, {name: x[None]})
            continue
        folds += 1
        copies = x[None] + rng.standard_normal((3, *x.shape))
        many = folded.forward_many(kind, inputs, params, {name: copies})
        one = np.stack([forward(kind, "numpy", {**inputs, name: c}, params)[0] for c in copies])
        np.testing.assert_array_equal(many, one)
    assert folds >= 1


@pytest.mark.parametrize("kind, inputs, params", _cases(), ids=lambda v: str(v)[:18])
def test_differences_of_the_reference_agree_with_torch(kind, inputs, params):
    pytest.importorskip("torch")
    k = get_kind(kind)
    dout = np.random.default_rng(2).standard_normal(np.shape(forward(kind, "numpy", inputs,
                                                                     params)[0]))
    case = LayerCase(kind, "float64", inputs, params, 0)
    for groups in (None, grouping.groups(k, case, params)):
        fd = folded.reference_fd(kind, inputs, params, dout, 1.2e-5, groups)
        if fd is None:  # layer norm's and group norm's γ, β have no axis to fold along
            assert not all(folded.foldable(kind, n, np.shape(v)) for n, v in inputs.items())
            return
        truth = vjp(kind, "torch", inputs, params, dout)
        for g in k.grads:
            np.testing.assert_allclose(fd[g], truth[g], rtol=1e-6, atol=1e-8)
    # a known-wrong truth differs from it: the comparison above can fail
    assert not np.allclose(fd[k.grads[0]] * 1.001 + 1e-6, truth[k.grads[0]], rtol=1e-6,
                           atol=1e-8)


@pytest.mark.parametrize("kind, inputs, params", _cases()[:8], ids=lambda v: str(v)[:18])
def test_groups_from_the_probes_in_one_call_are_those_of_one_probe_each(kind, inputs, params,
                                                                        monkeypatch):
    k = get_kind(kind)
    case = LayerCase(kind, "float64", inputs, params, 0)
    fast = {name: grouping._grouped(k, case, params, name) for name in k.inputs}
    monkeypatch.setattr(folded, "foldable", lambda *args: False)  # one probe per entry
    for name in k.inputs:
        slow = grouping._grouped(k, case, params, name)
        assert len(fast[name]) == len(slow)
        for (e1, o1), (e2, o2) in zip(fast[name], slow, strict=True):
            np.testing.assert_array_equal(e1, e2)
            np.testing.assert_array_equal(o1, o2)
