"""The strategies respect their bounds, draw valid targets and check their arguments."""

import numpy as np
import pytest
from hypothesis import given

from deltacheck import DeltacheckError
from deltacheck import strategies as ds


@given(ds.cases())
def test_defaults(case):
    assert 1 <= case.n_layers <= 5
    assert all(1 <= n <= 8 for n in case.widths)
    assert 1 <= case.batch <= 6
    if case.loss == "bce":
        assert ((case.t >= 0) & (case.t <= 1)).all()
    if case.loss == "ce":
        assert (case.t >= 0).all() and np.allclose(case.t.sum(axis=1), 1)
        assert case.widths[-1] >= 2
    # no dead, degenerate layers: a zero weight only in the row of one unit placed exactly
    # on a kink (no incoming weight, its bias the kink)
    for l, w in enumerate(case.weights):
        zero_rows = (w == 0).all(axis=1)
        assert ((w == 0).any(axis=1) == zero_rows).all() and zero_rows.sum() <= 1
        assert not zero_rows.any() or case.activations[l] in ("relu", "leaky_relu")


@given(ds.cases(min_layers=3, max_layers=3, max_width=2, max_batch=2, losses=["ce"],
                activations=["relu"], dtype="float32"))
def test_bounds_and_choices(case):
    assert case.n_layers == 3 and case.activations == ("relu", "relu")
    assert case.x.dtype == np.float32 and case.batch <= 2


@pytest.mark.parametrize("kwargs, words", [
    ({"min_layers": 3, "max_layers": 2}, "min_layers=3 is larger than max_layers=2"),
    ({"min_width": 0}, "min_width=0 must be at least 1"),
    ({"max_width": 2.5}, "max_width=2.5 must be an int"),
    ({"losses": ["hinge"]}, "losses has unknown 'hinge'"),
    ({"activations": []}, "activations is empty"),
])
def test_bad_bounds_say_how_to_fix_them(kwargs, words):
    with pytest.raises(DeltacheckError) as info:
        ds.architectures(**kwargs)
    assert words in str(info.value)


@given(ds.cases(architecture=ds.architectures(min_layers=2, max_layers=2, max_width=3,
                                              losses=["mse"])))
def test_a_given_architecture_strategy_is_drawn_from(case):
    assert case.n_layers == 2 and max(case.widths) <= 3 and case.loss == "mse"


@given(ds.cases(architecture=ds.Architecture(widths=(2, 3, 1), activations=("tanh",),
                                             loss="bce"), dtype="float32"))
def test_a_fixed_architecture_is_kept(case):
    assert case.widths == (2, 3, 1) and case.activations == ("tanh",) and case.loss == "bce"
    assert case.x.dtype == np.float32


def test_bad_case_arguments():
    with pytest.raises(DeltacheckError, match="min_batch=0"):
        ds.cases(min_batch=0)
    with pytest.raises(DeltacheckError, match="dtype='int8'"):
        ds.cases(dtype="int8")
    with pytest.raises(DeltacheckError, match="pass either architecture= or impl="):
        ds.cases(architecture=ds.architectures(), max_layers=2)
