"""Nothing an implementation sets globally reaches the harness; nondeterminism is named."""

import warnings

import numpy as np
import pytest

from deltacheck import campaign, reference_impl
from deltacheck.core.isolation import isolated
from deltacheck.core.verdicts import FAIL, PASS
from deltacheck.judging.check import check_case
from tests.helpers import random_case
from tests.impls import planted


def test_numpy_raising_on_warnings_is_undone(rng):
    before = np.geterr()
    case = random_case(rng, (2, 3, 2), ("sigmoid",), "bce")
    result = check_case(case, planted.raises_floating_point_errors, ["fd"])
    assert result.verdict == PASS, result.first_message()
    assert np.geterr() == before


def test_a_whole_run_with_seterr_raise_ends_in_a_verdict(tmp_path):
    # the overflow regime makes the harness's own numpy warn: it must not raise there
    config = campaign.Config(impl=planted.raises_floating_point_errors, impl_spec="planted",
                             seed=3, examples=30, oracles=["torch", "fd"],
                             failures_dir=str(tmp_path))
    outcome = campaign.run(config)
    assert outcome.exit_code == 0, outcome.document["summary"]["first_disagreement"]


def test_torch_settings_and_warning_filters_are_restored(rng):
    torch = pytest.importorskip("torch")
    before = (torch.get_default_dtype(), torch.get_num_threads(), list(warnings.filters))
    case = random_case(rng, (2, 3, 2), ("tanh",), "ce")
    result = check_case(case, planted.sets_global_state, ["torch"])
    assert result.verdict == PASS, result.first_message()
    assert (torch.get_default_dtype(), torch.get_num_threads(), list(warnings.filters)) == before


def test_isolation_restores_even_when_the_call_raises():
    before = np.geterr()
    with pytest.raises(ZeroDivisionError), isolated():
        np.seterr(all="raise")
        1 / 0  # noqa: B018
    assert np.geterr() == before


def test_a_nondeterministic_implementation_is_named(rng):
    case = random_case(rng, (2, 3, 2), ("tanh",), "mse", batch=4)
    once = check_case(case, planted.noisy_output_error, ["torch"])
    assert once.nondeterministic == ""  # one run cannot tell
    twice = check_case(case, planted.noisy_output_error, ["torch"], repeat=True)
    assert twice.verdict == FAIL
    assert "δ[1]" in twice.nondeterministic and "δ[0]" not in twice.nondeterministic
    assert twice.first_message().startswith("the implementation is nondeterministic")


def test_a_deterministic_implementation_run_twice_is_not_flagged(rng):
    case = random_case(rng, (2, 3, 2), ("tanh",), "mse")
    result = check_case(case, reference_impl.backprop, ["torch"], repeat=True)
    assert result.verdict == PASS and result.nondeterministic == ""


def test_the_minimal_case_of_a_campaign_is_run_twice(tmp_path):
    config = campaign.Config(impl=planted.noisy_output_error, impl_spec="planted", seed=1,
                             examples=20, losses=["mse"], oracles=["torch"],
                             failures_dir=str(tmp_path))
    outcome = campaign.run(config)
    assert outcome.exit_code == 1
    (minimal,) = [f for f in outcome.document["failures"] if f["minimal"]]
    assert minimal["nondeterministic"]
    assert "nondeterministic" in minimal["message"]
    assert minimal["diagnosis"]["kind"] == "nondeterministic"
