"""The SGD loop: w ← w − η Σ_n δ_nj z_ni on mini-batches, with an explicit generator."""

import numpy as np
import pytest

from deltacheck import reference_impl
from deltacheck import testing as dt
from tests.helpers import random_case


def test_one_step_matches_torch_sgd(rng):
    torch = pytest.importorskip("torch")
    case = random_case(rng, (3, 5, 2), ("tanh",), "ce", batch=4)
    W, b, _ = reference_impl.sgd(case.weights, case.biases, ["tanh"], "ce", case.x, case.t,
                                 rng=np.random.default_rng(0), learning_rate=0.1, epochs=1,
                                 batch_size=4)
    params = [torch.tensor(p, requires_grad=True) for p in (*case.weights, *case.biases)]
    opt = torch.optim.SGD(params, lr=0.1)
    h = torch.tanh(torch.tensor(case.x) @ params[0].T + params[2])
    E = torch.nn.functional.cross_entropy(h @ params[1].T + params[3], torch.tensor(case.t),
                                          reduction="sum")
    E.backward()
    opt.step()
    for mine, theirs in zip([*W, *b], params, strict=True):
        dt.assert_close(mine, theirs.detach().numpy(), what="parameter after one step")


def test_training_lowers_the_loss(rng):
    case = random_case(rng, (2, 8, 1), ("tanh",), "mse", batch=32)
    *_, history = reference_impl.sgd(case.weights, case.biases, ["tanh"], "mse", case.x, case.t,
                                     rng=rng, learning_rate=0.01, epochs=50, batch_size=8)
    assert history[-1] < 0.5 * history[0], history


def test_training_is_reproducible_and_leaves_inputs_alone(rng):
    case = random_case(rng, (2, 3, 2), ("relu",), "bce", batch=10)
    args = ([w.copy() for w in case.weights], [v.copy() for v in case.biases], ["relu"], "bce",
            case.x, case.t)
    run1 = reference_impl.sgd(*args, rng=np.random.default_rng(5), epochs=3, batch_size=3)
    run2 = reference_impl.sgd(*args, rng=np.random.default_rng(5), epochs=3, batch_size=3)
    for p, q in zip(run1[0] + run1[1], run2[0] + run2[1], strict=True):
        np.testing.assert_array_equal(p, q)
    for w, original in zip(args[0], case.weights, strict=True):
        np.testing.assert_array_equal(w, original)


def test_training_needs_a_generator(rng):
    case = random_case(rng, (2, 2), (), "mse")
    with pytest.raises(TypeError, match=r"numpy\.random\.Generator"):
        reference_impl.sgd(case.weights, case.biases, [], "mse", case.x, case.t, rng=0)
