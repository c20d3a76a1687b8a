"""The case spec validates itself and round-trips through JSON exactly."""

import numpy as np
import pytest
from hypothesis import given

from deltacheck import Case, DeltacheckError
from deltacheck import strategies as ds
from tests.helpers import random_case


@given(ds.cases(dtype="float64") | ds.cases(dtype="float32"))
def test_json_round_trip_is_exact(case):
    back = Case.loads(case.dumps())
    assert back.summary() == case.summary()
    for a, b in zip([*case.weights, *case.biases, case.x, case.t],
                    [*back.weights, *back.biases, back.x, back.t], strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_arrays_are_read_only_and_arguments_are_fresh_copies(rng):
    case = random_case(rng, (2, 3, 1), ("tanh",), "mse")
    with pytest.raises(ValueError):
        case.weights[0][0, 0] = 1.0
    weights, *_ = case.arguments()
    weights[0][0, 0] += 1.0
    assert case.weights[0][0, 0] != weights[0][0, 0]


@pytest.mark.parametrize("change, words", [
    ({"loss": "hinge"}, "loss='hinge' must be one of mse, bce, ce"),
    ({"dtype": "float16"}, "dtype='float16'"),
    ({"activations": ()}, "activations has 0 names, but widths=(2, 3, 1) has 1 hidden layer"),
    ({"widths": (2,)}, "needs at least two entries"),
    ({"x": np.zeros((3, 5))}, "x has shape (3, 5); it should be (N, 2)"),
    ({"t": np.zeros((2, 1))}, "t has shape (2, 1); it should be (3, 1)"),
    ({"x": np.full((3, 2), np.nan)}, "x holds NaN or inf"),
    ({"weights": (np.ones((3, 2)), np.array([[1.0, np.inf, 1.0]]))},
     "weights[1] holds NaN or inf"),
    ({"biases": (np.array([0.0, -np.inf, 0.0]), np.zeros(1))}, "biases[0] holds NaN or inf"),
    ({"weights": (np.zeros((3, 2)), np.zeros((2, 3)))},
     "weights[1] has shape (2, 3); it should be (1, 3)"),
])
def test_invalid_cases_name_the_argument_and_the_fix(rng, change, words):
    base = random_case(rng, (2, 3, 1), ("tanh",), "mse")
    fields = {k: getattr(base, k) for k in ("widths", "activations", "loss", "dtype", "weights",
                                             "biases", "x", "t")}
    with pytest.raises(DeltacheckError) as info:
        Case(**{**fields, **change})
    assert words in str(info.value)


def test_targets_must_be_valid_for_their_loss(rng):
    case = random_case(rng, (2, 2), (), "mse")
    fields = {k: getattr(case, k) for k in ("widths", "activations", "dtype", "weights",
                                             "biases", "x")}
    with pytest.raises(DeltacheckError, match=r"\[0, 1\]"):
        Case(**fields, loss="bce", t=np.full((3, 2), 1.5))
    with pytest.raises(DeltacheckError, match="summing to 1"):
        Case(**fields, loss="ce", t=np.full((3, 2), 0.2))


def test_loads_rejects_garbage():
    with pytest.raises(DeltacheckError, match="does not parse"):
        Case.loads("{nope")
    with pytest.raises(DeltacheckError, match="needs widths"):
        Case.loads('{"widths": [1, 1]}')


@pytest.mark.parametrize("change, words", [
    ({"widths": ["a", 1]}, "must hold whole numbers"),
    ({"widths": [1e400, 1]}, "must hold whole numbers"),
    ({"x": [[10**400]]}, "x must be an array of numbers"),
    ({"x": [["one"]]}, "x must be an array of numbers"),
    ({"loss": "hinge"}, "loss='hinge' must be one of"),
])
def test_malformed_json_fields_are_deltacheck_errors(rng, change, words):
    data = {**random_case(rng, (1, 1), (), "mse", batch=1).to_json(), **change}
    with pytest.raises(DeltacheckError) as info:
        Case.from_json(data)
    assert words in str(info.value), str(info.value)


def test_ce_rows_must_sum_to_1_within_rounding(rng):
    case = random_case(rng, (2, 2), (), "ce")
    fields = {k: getattr(case, k) for k in ("widths", "activations", "loss", "weights",
                                             "biases", "x")}
    off = np.array([[0.5, 0.5 + 1e-9]] * 3)  # within the old 1e-6, but δ = y − t is then wrong
    with pytest.raises(DeltacheckError, match="summing to 1"):
        Case(**fields, dtype="float64", t=off)
    # rows normalised in float64 and rounded to float32 (as the strategies make them) pass
    t = rng.dirichlet(np.ones(2), size=3)
    Case(**fields, dtype="float32", t=(t / t.sum(axis=1, keepdims=True)).astype(np.float32))
    with pytest.raises(DeltacheckError, match="summing to 1"):
        Case(**fields, dtype="float32", t=np.array([[0.5, 0.5 + 1e-5]] * 3))
