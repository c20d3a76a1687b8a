"""The regions where bugs hide are visited on purpose, and land where they say."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed

from deltacheck import Case, DeltacheckError
from deltacheck import strategies as ds
from deltacheck.campaign import regions
from tests.helpers import random_case


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("layer", [0, 1, 2])
def test_overflow_reaches_past_the_dtype_limit_and_stays_in_range(rng, dtype, layer):
    case = random_case(rng, (3, 4, 4, 3), ("softplus", "identity"), "ce", batch=4, dtype=dtype)
    W, b, x = list(case.weights), list(case.biases), np.array(case.x)
    W, b = [w.copy() for w in W], [v.copy() for v in b]
    top = regions.overflow(rng, W, b, case.activations, x, layer, dtype)
    a = regions.pre_activations(W, b, case.activations, x)
    assert regions.OVERFLOW[dtype] <= np.abs(a[layer]).max() <= regions.LOGIT_REACH
    assert np.isclose(np.abs(a[layer]).max(), top, rtol=1e-3)
    for m in range(layer + 1, 3):  # what follows is capped at the stated range
        reach = regions.LOGIT_REACH if m == 2 else regions.HIDDEN_REACH
        assert np.abs(a[m]).max() <= reach * (1 + 1e-6)
    assert all(w.dtype == dtype for w in W) and all(v.dtype == dtype for v in b)


def test_near_kink_puts_units_on_both_sides_of_every_kink_layer(rng):
    exact_layers = 0
    for _ in range(20):
        case = random_case(rng, (3, 4, 4, 2), ("relu", "leaky_relu"), "mse", batch=3)
        W, b = [w.copy() for w in case.weights], [v.copy() for v in case.biases]
        placed = regions.near_kink(rng, W, b, case.activations, case.x, choice=5,
                                   dtype="float64")
        a = regions.pre_activations(W, b, case.activations, case.x)
        exact_here = 0
        for l in range(2):
            near = np.abs(a[l]) < 0.1 + 1e-12  # u ≥ 1: within 10^-1
            exact = (a[l] == 0).all(axis=0)
            squeezed = (near.all(axis=0) & (a[l] > 0).any(axis=0) & (a[l] < 0).any(axis=0))
            assert squeezed.any(), a[l]  # one unit on both sides in every sample
            # and one more unit on each side, in one sample at least
            assert ((near & (a[l] > 0)).any(axis=0).sum() >= 2
                    and (near & (a[l] < 0)).any(axis=0).sum() >= 2), a[l]
            exact_here += int(exact.any())
        assert placed == 6 + exact_here  # per layer: squeezed, above, below, maybe exact
        exact_layers += exact_here
    assert 20 <= exact_layers <= 38, exact_layers  # three layers in four, of 40


@pytest.mark.parametrize("batch", [1, 3])
def test_near_kink_in_a_one_unit_layer_places_one_unit_near_or_on_the_kink(rng, batch):
    for _ in range(10):
        case = random_case(rng, (3, 1, 2), ("relu",), "mse", batch=batch)
        W, b = [w.copy() for w in case.weights], [v.copy() for v in case.biases]
        assert regions.near_kink(rng, W, b, case.activations, case.x, 7, "float64") == 1
        a = regions.pre_activations(W, b, case.activations, case.x)[0][:, 0]
        assert (a == 0).all() or (np.abs(a) < 0.1 + 1e-12).any(), a  # one sample at least


def test_no_kink_layer_places_nothing(rng):
    case = random_case(rng, (2, 3, 2), ("tanh",), "mse")
    W, b = [w.copy() for w in case.weights], [v.copy() for v in case.biases]
    assert regions.near_kink(rng, W, b, case.activations, case.x, 0, "float64") == 0
    assert all((v == u).all() for v, u in zip(b, case.biases, strict=True))


@pytest.mark.parametrize("loss", ["bce", "ce"])
@pytest.mark.parametrize("labels", ["soft", "exact", "mixed"])
def test_targets_are_valid_and_exact_where_asked(rng, loss, labels):
    t = regions.targets(rng, loss, (40, 3), "float32", labels)
    Case(widths=(1, 3), activations=(), loss=loss, dtype="float32", weights=[np.ones((3, 1))],
         biases=[np.zeros(3)], x=np.ones((40, 1)), t=t)  # raises if invalid
    exact_rows = ((t == 0) | (t == 1)).all(axis=1)
    assert {"soft": not exact_rows.any(), "exact": exact_rows.all(),
            "mixed": 0 < exact_rows.sum() < 40}[labels]


def test_campaign_draws_visit_every_region():
    seen: Counter = Counter()

    @hypothesis_seed(3)
    @settings(max_examples=400, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(ds.cases(wide_width=16, wide_batch=16, activations=["relu", "tanh", "softplus"]))
    def draw(case):
        a = regions.pre_activations(case.weights, case.biases, case.activations, case.x)
        seen["overflow"] += max(float(np.abs(v).max()) for v in a) > 710
        seen["near kink"] += any(name == "relu" and ((np.abs(a[l]) > 0) & (np.abs(a[l]) < 1e-5)).any()
                                 for l, name in enumerate(case.activations))
        seen["wide"] += max(case.widths) > 8
        seen["large batch"] += case.batch > 8
        if case.loss != "mse":
            exact = ((case.t == 0) | (case.t == 1)).all(axis=1)
            seen["exact labels"] += exact.any()
            seen["soft labels"] += (~exact).any()
        seen["tiny inputs"] += bool((np.abs(case.x).max(axis=1) < 1e-3).any())

    draw()
    for region in ("overflow", "near kink", "wide", "large batch", "exact labels",
                   "soft labels", "tiny inputs"):
        assert seen[region] >= 3, seen


@given(ds.cases())
def test_without_wide_sizes_the_bounds_hold(case):
    assert max(case.widths) <= 8 and case.batch <= 6


def test_wide_sizes_must_exceed_the_bounds():
    with pytest.raises(DeltacheckError, match="wide_width=8 must be a whole number above 8"):
        ds.cases(wide_width=8)
    with pytest.raises(DeltacheckError, match="wide_batch=3 must be a whole number above 6"):
        ds.cases(wide_batch=3)


def test_log_magnitude_grows_with_the_pre_activations(rng):
    case = random_case(rng, (2, 3, 2), ("tanh",), "mse")
    big = Case(widths=case.widths, activations=case.activations, loss="mse", dtype="float64",
               weights=[w * 1000 for w in case.weights], biases=case.biases, x=case.x, t=case.t)
    assert regions.log_magnitude(big) > regions.log_magnitude(case) + 2


@pytest.mark.parametrize("seed", range(6))
def test_overflow_meets_both_signs_in_a_wider_layer(seed):
    # eᵃ/(1 + eᵃ) breaks only above +710, e^-a only below −710: a layer in the overflow
    # regime holds units past the limit on both sides, whichever sign was drawn first
    rng = np.random.default_rng(seed)
    case = random_case(rng, (3, 4, 4, 3), ("sigmoid", "softplus"), "ce", batch=3)
    W, b = [w.copy() for w in case.weights], [v.copy() for v in case.biases]
    regions.overflow(rng, W, b, case.activations, case.x, 1, "float64")
    a = regions.pre_activations(W, b, case.activations, case.x)[1]
    assert a.max() > 710 and a.min() < -710, a
    assert np.abs(a).max() <= regions.HIDDEN_REACH * (1 + 1e-9)
