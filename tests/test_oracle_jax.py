"""The jax oracle: float64 jax.grad, padded into shape buckets so one compilation serves all."""

import numpy as np
import pytest

from deltacheck import testing as dt
from deltacheck.core.activations import BUILTIN_NAMES, Activation
from deltacheck.judging.check import activation_objects
from deltacheck.oracles import jax_oracle, torch_oracle
from tests.helpers import random_case

jax = pytest.importorskip("jax")  # every test here runs the jax oracle


@pytest.mark.parametrize("widths, acts", [
    ((1, 1), ()),
    ((3, 9, 2), ("tanh",)),  # width 9 goes to the 16-wide bucket
    ((2, 3, 3, 3, 3, 3, 2), ("relu", "elu", "gelu", "silu", "softsign")),  # 6 layers: depth 8
])
@pytest.mark.parametrize("loss", ["mse", "bce", "ce"])
def test_padding_is_exact_against_torch(rng, widths, acts, loss):
    pytest.importorskip("torch")
    if loss == "ce" and widths[-1] == 1:
        widths = (*widths[:-1], 2)
    case = random_case(rng, widths, acts, loss, batch=9)  # batch 9: the 16-row bucket
    hidden = activation_objects(acts)
    mine = jax_oracle.gradients(case.weights, case.biases, hidden, loss, case.x, case.t)
    ref = torch_oracle.gradients(case.weights, case.biases, hidden, loss, case.x, case.t)
    dt.assert_close(mine.loss, ref.loss, oracle="jax", what="E")
    for key in ("deltas", "grad_weights", "grad_biases"):
        for l in range(case.n_layers):
            dt.assert_close(mine.quantity(key)[l], ref.quantity(key)[l], oracle="jax",
                            what=f"{key}[{l}]", loss_value=ref.loss)


def test_x64_is_enabled_only_inside_the_oracle(rng):
    case = random_case(rng, (2, 2), (), "bce")
    before = jax.config.jax_enable_x64
    g = jax_oracle.gradients(case.weights, case.biases, [], "bce", case.x, case.t)
    assert jax.config.jax_enable_x64 == before
    assert g.grad_weights[0].dtype == np.float64


def test_one_compilation_serves_many_architectures(rng):
    jax_oracle.forget_compiled()
    for i in range(12):
        L = 1 + i % 5
        acts = tuple(BUILTIN_NAMES[(i + k) % 10] for k in range(L - 1))
        case = random_case(rng, tuple(1 + (i * 3 + k) % 8 for k in range(L + 1)), acts, "mse",
                           batch=1 + i % 6)
        jax_oracle.gradients(case.weights, case.biases, activation_objects(acts), "mse", case.x,
                             case.t)
    fn, = jax_oracle.compiled_functions()
    assert fn._cache_size() == 1


def test_a_user_activation_joins_the_table(rng):
    pytest.importorskip("torch")
    cube = Activation("cube", h=lambda a, xp: a**3 / 3, dh=lambda a, xp: a**2)
    case = random_case(rng, (2, 3, 2), ("tanh",), "ce")
    mine = jax_oracle.gradients(case.weights, case.biases, [cube], "ce", case.x, case.t)
    ref = torch_oracle.gradients(case.weights, case.biases, [cube], "ce", case.x, case.t)
    dt.assert_close(mine.deltas[0], ref.deltas[0], oracle="jax", what="δ[0]")
