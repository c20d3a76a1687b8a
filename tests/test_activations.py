"""The built-in activations: h' is the derivative of h, and everything stays finite to |a| = 1e3."""

import numpy as np
import pytest

from deltacheck import testing as dt
from deltacheck.core import activations as acts
from deltacheck.reference_impl.losses import LOSSES

GRID = np.concatenate([np.linspace(-8, 8, 161), [-1e3, -50.0, -1e-9, 1e-9, 50.0, 1e3]])


@pytest.mark.parametrize("name", acts.BUILTIN_NAMES)
def test_hand_written_derivative_matches_autograd(name):
    torch = pytest.importorskip("torch")
    xp = pytest.importorskip("array_api_compat.torch")
    act = acts.get(name)
    a = torch.tensor(GRID, requires_grad=True)

    (grad,) = torch.autograd.grad(act.h(a, xp).sum(), a)
    away = np.ones(GRID.shape, dtype=bool)
    for k in act.kinks:
        away &= np.abs(GRID - k) > 1e-6
    dt.assert_close(act.dh(GRID, np)[away], grad.numpy()[away], what=f"{name}'(a)")


@pytest.mark.parametrize("name", acts.BUILTIN_NAMES)
def test_finite_for_large_inputs(name):
    act = acts.get(name)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        assert np.isfinite(act.h(GRID, np)).all()
        assert np.isfinite(act.dh(GRID, np)).all()


@pytest.mark.parametrize("loss", ["bce", "ce"])
def test_losses_stay_finite_for_large_logits(loss):
    a = np.array([[1e3, -1e3], [-1e3, 1e3]])
    t = np.array([[1.0, 0.0], [0.0, 1.0]]) if loss == "ce" else np.array([[0.0, 1.0], [1.0, 0.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        E = LOSSES[loss].value(a, t)
        y = LOSSES[loss].output(a)
    assert np.isfinite(E) and np.isfinite(y).all()
    assert E == pytest.approx(0.0 if loss == "ce" else 4e3)


def test_the_registry_refuses_to_replace_a_builtin():
    fake = acts.Activation("tanh", h=lambda a, xp: a, dh=lambda a, xp: a)
    with pytest.raises(ValueError, match="built-in"), acts.registered([fake]):
        pass
    assert acts.get("tanh") is not fake


def test_registered_activations_leave_with_the_block():
    cube = acts.Activation("cube", h=lambda a, xp: a**3, dh=lambda a, xp: 3 * a**2)
    with acts.registered([cube]):
        assert acts.get("cube") is cube
    with pytest.raises(KeyError, match="unknown activation 'cube'"):
        acts.get("cube")
