"""Mismatch messages: the digits that tell values apart, the difference beside the allowed one."""

import re

import numpy as np
import pytest

from deltacheck import reference_impl
from deltacheck.core.verdicts import ERROR, FAIL, NOT_JUDGED, PASS, Verdict, worst
from deltacheck.judging.check import check_case
from deltacheck.judging.compare import compare_entries, distinct
from tests.helpers import perturbed, random_case


def test_verdicts_are_one_type_equal_to_their_strings():
    assert all(isinstance(v, Verdict) for v in (PASS, FAIL, ERROR, NOT_JUDGED))
    assert (PASS, FAIL, ERROR, NOT_JUDGED) == ("pass", "fail", "error", "not judged")
    assert f"{NOT_JUDGED}" == "not judged" and str(FAIL) == "fail"
    assert worst(["pass", "not judged", "error"]) is ERROR
    assert worst([]) is NOT_JUDGED


@pytest.mark.parametrize(("x", "y", "want"), [
    (-0.1173962, -0.1173958, ("-0.1173962", "-0.1173958")),
    (0.41, 0.40, ("0.41", "0.4")),
    (1.0 + 2**-52, 1.0, ("1.0000000000000002", "1")),
])
def test_values_get_the_digits_that_tell_them_apart(x, y, want):
    assert distinct(x, y, least=2) == want


def test_a_mismatch_message_shows_the_difference_and_what_was_allowed(rng):
    case = random_case(rng, (3, 4, 2), ("tanh",), "bce", batch=3)
    out = reference_impl.backprop(*case.arguments())
    wrong = perturbed(out, "deltas", 0, (1, 0), 1 + 3e-6)
    result = check_case(case, lambda *a: wrong, ["torch"])
    message = result.first_message()
    m = re.fullmatch(r"δ\[0\]\[1, 0\] = (\S+), but torch says (\S+) \(\|diff\| (\S+) > allowed "
                     r"(\S+), err (\S+) > rtol 1e-12; tanh, bce, float64\)", message)
    assert m, message
    got, want = float(m.group(1)), float(m.group(2))
    assert got != want  # printed with enough digits to differ
    assert got == pytest.approx(wrong["deltas"][0][1, 0], rel=1e-5)
    digits = len(m.group(1).lstrip("-0.").replace(".", ""))
    assert f"{got:.{digits - 1}g}" == f"{want:.{digits - 1}g}"  # and no more than that
    assert float(m.group(3)) > float(m.group(4))


def test_a_difference_against_zero_reads_as_an_absolute_one():
    q = compare_entries(np.array([-0.46, 0.0]), np.array([0.0, 0.0]), unjudged=None,
                        uncertainty=0.0, rtol=1e-12, floor=1e-15, quantity="grad_biases",
                        layer=0)
    assert q.verdict == FAIL
    assert q.allowed_at_worst == pytest.approx(1e-15)


def test_a_raising_implementation_never_shows_err_zero(rng):
    case = random_case(rng, (2, 3, 1), ("tanh",), "mse")

    def raises(*args):
        raise RuntimeError("boom")

    result = check_case(case, raises, ["torch"])
    assert result.verdict == FAIL
    assert result.oracles["torch"].err == float("inf")
    assert result.oracles["torch"].to_json()["err"] == "inf"
