"""The example implementations, each in its own conventions, agree with the reference once converted.

Each is called as deltacheck will call it: arguments converted to its declared conventions,
its result converted back, and judged by deltacheck's rule against the reference; a planted
bug in each must fail the same check.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deltacheck import reference_impl
from deltacheck.core.conventions import Conventions, declared, protocol_result, user_arguments
from deltacheck.core.gradients import Gradients
from tests.plain import disagreements, draw_plain, plain_cases

EXAMPLES = Path(__file__).parents[1] / "examples" / "implementations"
NAMES = ("per_sample_network", "fc_net", "grads_only")


def load(name):
    """The example module, imported from its file as `deltacheck run --impl FILE.py:NAME` does."""
    spec = importlib.util.spec_from_file_location(f"deltacheck_example_{name}",
                                                  EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def problems(impl, case, conv=None):
    """What disagrees with the reference, the implementation called in its own conventions."""
    conv = conv or declared(impl)
    raw = impl(*user_arguments(conv, *case.arguments()))
    got = protocol_result(conv, raw, batch=case.batch, n_layers=case.n_layers)
    assert set(got) == conv.provides  # it returns what it declares, and only that
    want = reference_impl.backprop(*case.arguments())
    truth = Gradients(loss=want["loss"], deltas=want["deltas"],
                      grad_weights=want["grad_weights"], grad_biases=want["grad_biases"])
    keys = tuple(k for k in ("loss", "deltas", "grad_weights", "grad_biases") if k in got)
    return disagreements(got, truth, oracle="torch", keys=keys,
                         context=f"{impl.__module__}, {case.loss}")


def case_for(impl, rng, widths=(3, 4, 3, 2), batch=5):
    """A fixed small case of the losses and activations the implementation declares."""
    conv = declared(impl)
    (act,) = sorted(impl.activations)[:1]
    return draw_plain(rng, widths, (act,) * (len(widths) - 2), conv.loss_names[0], batch=batch,
                      one_hot=conv.targets == "labels")


def test_each_declares_its_conventions():
    assert declared(load("per_sample_network").backprop) == Conventions(
        losses={"mse_sigmoid"}, provides={"grad_weights", "grad_biases"})
    assert declared(load("fc_net").backprop) == Conventions(
        weight_layout="in_out", reduction="mean", targets="labels", losses={"ce"},
        provides={"loss", "grad_weights", "grad_biases"})
    assert declared(load("grads_only").backprop) == Conventions(
        losses={"mse"}, provides={"grad_weights", "grad_biases"})


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_each_agrees_with_the_reference_once_converted(name, data):
    impl = load(name).backprop
    conv = declared(impl)
    case = data.draw(plain_cases(losses=conv.loss_names, activations=tuple(impl.activations),
                                 one_hot=conv.targets == "labels"))
    assert not problems(impl, case)


# ---- each fails with a planted bug --------------------------------------------------------------

def test_per_sample_network_with_a_factor_2_in_the_cost_derivative_fails(rng, monkeypatch):
    module = load("per_sample_network")
    case = case_for(module.backprop, rng)
    assert not problems(module.backprop, case)
    monkeypatch.setattr(module.Network, "cost_derivative", lambda self, a, y: 2 * (a - y))
    failed = problems(module.backprop, case)
    assert failed and failed[0].startswith("∂W[0]")


def test_per_sample_network_with_the_canonical_output_error_fails(rng, monkeypatch):
    # δ = y − t at the output, the shortcut that holds only for canonical pairs: with one
    # layer sigmoid_prime is used only at the output, and a slope of 1 there makes δ = y − t
    module = load("per_sample_network")
    case = case_for(module.backprop, rng, widths=(3, 2))
    monkeypatch.setattr(module, "sigmoid_prime", np.ones_like)
    assert problems(module.backprop, case)


def test_fc_net_with_a_sum_gradient_under_a_mean_loss_fails(rng, monkeypatch):
    module = load("fc_net")
    case = case_for(module.backprop, rng)
    assert not problems(module.backprop, case)
    mean_loss = module.softmax_loss

    def forgot_to_divide(x, y):
        loss, dx = mean_loss(x, y)
        return loss, dx * x.shape[0]

    monkeypatch.setattr(module, "softmax_loss", forgot_to_divide)
    failed = problems(module.backprop, case)
    assert failed and not any(line.startswith("E ") for line in failed)  # E is still right


def test_fc_net_declared_as_summing_is_off_by_n(rng):
    impl = load("fc_net").backprop
    case = case_for(impl, rng)
    failed = problems(impl, case, conv=declared(impl, reduction="sum"))
    assert failed[0].startswith("E = ")
    assert len(failed) == 1 + 2 * case.n_layers  # E, every ∂W and every ∂b


def test_grads_only_with_half_the_weight_gradients_fails(rng, monkeypatch):
    module = load("grads_only")
    case = case_for(module.backprop, rng)
    assert not problems(module.backprop, case)
    right = module.mlp_gradients
    monkeypatch.setattr(module, "mlp_gradients",
                        lambda params, X, Y: [(dW / 2, db) for dW, db in right(params, X, Y)])
    failed = problems(module.backprop, case)
    assert [line.split(" ")[0].split("[")[0] for line in failed] == ["∂W"] * case.n_layers
