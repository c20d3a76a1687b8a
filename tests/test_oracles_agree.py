"""The oracles agree with each other, before any of them is trusted to judge an implementation."""

import pytest
from hypothesis import given

from deltacheck import strategies as ds
from deltacheck.core.verdicts import NOT_JUDGED, PASS
from deltacheck.judging.check import activation_objects
from deltacheck.judging.compare import compare
from deltacheck.oracles import fd, jax_oracle, torch_oracle

PAIRS = [(jax_oracle, torch_oracle), (torch_oracle, fd), (jax_oracle, fd)]


@pytest.mark.parametrize("mine, truth", PAIRS, ids=["jax~torch", "torch~fd", "jax~fd"])
@given(case=ds.cases())
def test_oracles_agree(mine, truth, case):
    hidden = activation_objects(case.activations)
    values = [o.gradients(case.weights, case.biases, hidden, case.loss, case.x, case.t)
              for o in (mine, truth)]
    # the first plays the implementation, the second judges it with its own tolerance,
    # kink masks and (for fd) error bars
    result = compare(case, values[0], values[1], oracle_name=truth.name)
    failed = result.first_failure()
    assert result.verdict in (PASS, NOT_JUDGED), failed.message if failed else result.verdict
