"""Node errors: δ_j = ∂E/∂a_j at every layer, against every oracle's probe on the pre-activations."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deltacheck import reference_impl
from deltacheck import strategies as ds
from deltacheck import testing as dt
from deltacheck.core.activations import BUILTIN_NAMES


@pytest.mark.parametrize("loss", ["mse", "bce", "ce"])
@given(data=st.data())
def test_reference_agrees_with_every_oracle(loss, data):
    case = data.draw(ds.cases(losses=[loss]))
    dt.assert_agrees(case, reference_impl.backprop)


@pytest.mark.parametrize("activation", BUILTIN_NAMES)
@given(data=st.data())
def test_every_activation_in_deep_networks(activation, data):
    case = data.draw(ds.cases(min_layers=2, max_layers=4, activations=[activation]))
    dt.assert_agrees(case, reference_impl.backprop)


@given(ds.cases(dtype="float32"))
def test_float32_implementation_within_float32_tolerance(case):
    dt.assert_agrees(case, reference_impl.backprop)
