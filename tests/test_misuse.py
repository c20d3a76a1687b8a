"""Library misuse raises DeltacheckError naming the argument and the fix, never a stray KeyError."""

import numpy as np
import pytest
from hypothesis import given, settings

from deltacheck import DeltacheckError, reference_impl
from deltacheck import strategies as ds
from deltacheck import testing as dt
from deltacheck.core.case import Case
from deltacheck.judging.check import check_case
from deltacheck.oracles import get
from tests.helpers import random_case


@pytest.fixture
def case(rng):
    return random_case(rng, (2, 3, 1), ("tanh",), "mse")


def test_one_oracle_name_as_a_string_is_refused(case):
    with pytest.raises(DeltacheckError, match=r"oracle_names='fd' is one string; .*\['fd'\]"):
        check_case(case, reference_impl.backprop, "fd")


def test_assert_agrees_names_its_own_argument(case):
    with pytest.raises(DeltacheckError, match=r"oracles='fd' is one string"):
        dt.assert_agrees(case, reference_impl.backprop, oracles="fd")


@pytest.mark.parametrize("names", [["fd", "autograd"], []])
def test_unknown_or_no_oracle_names_are_refused(case, names):
    with pytest.raises(DeltacheckError, match="choose from torch, jax, fd"):
        check_case(case, reference_impl.backprop, names)


def test_an_unknown_oracle_module_is_refused():
    with pytest.raises(DeltacheckError, match="unknown oracle 'autograd'; choose from"):
        get("autograd")


def test_check_case_refuses_what_is_not_a_case_or_a_callable(case):
    with pytest.raises(DeltacheckError, match=r"case must be a deltacheck\.Case"):
        check_case(case.to_json(), reference_impl.backprop, ["fd"])
    with pytest.raises(DeltacheckError, match="impl must be a callable"):
        check_case(case, "reference_impl.backprop", ["fd"])


@pytest.mark.parametrize("widths", [(2.7, 1), ("2", 1), (True, 1)])
def test_case_widths_are_whole_numbers_not_truncated(widths):
    with pytest.raises(DeltacheckError, match="must hold whole numbers"):
        Case(widths=widths, activations=(), loss="mse", dtype="float64",
             weights=(np.ones((1, 2)),), biases=(np.ones(1),), x=np.ones((1, 2)),
             t=np.ones((1, 1)))


def test_whole_floats_and_numpy_ints_are_widths(case):
    again = Case(widths=(np.int64(2), 3.0, 1), activations=case.activations, loss=case.loss,
                 dtype=case.dtype, weights=case.weights, biases=case.biases, x=case.x, t=case.t)
    assert again.widths == (2, 3, 1) and all(type(n) is int for n in again.widths)


def test_a_misspelt_bound_names_the_right_one():
    with pytest.raises(DeltacheckError, match=r"unknown argument max_layer=; did you mean "
                                              r"max_layers=\?"):
        ds.cases(max_layer=3)


def _relu_only(*args):
    return reference_impl.backprop(*args)


_relu_only.activations = {"relu"}


@settings(max_examples=20, database=None)
@given(ds.cases(impl=_relu_only, min_layers=3, max_layers=3, max_width=2, max_batch=1))
def test_cases_draws_only_what_impl_declares(case):
    assert set(case.activations) == {"relu"}


def test_cases_refuses_an_impl_that_declares_nothing_drawable():
    def impl(*args):
        return None
    impl.activations = {"swish"}
    with pytest.raises(DeltacheckError, match="impl supports only swish"):
        ds.cases(impl=impl)
