"""Implementations with planted bugs, for the campaign's and CLI's tests."""

import numpy as np

from deltacheck import reference_impl
from deltacheck.core import activations as registry
from deltacheck.core.activations import Activation


def tanh_derivative_of_a(weights, biases, activations, loss, x, t):
    """Uses 1 − a² instead of 1 − z² for tanh: a classic slip."""
    hidden = [registry.REGISTRY[name] for name in activations]
    E = reference_impl.LOSSES[loss]
    a, z = reference_impl.forward(weights, biases, hidden, x, output=E.output)
    delta = [E.output_delta(z[-1], t)]
    for l in reversed(range(len(hidden))):
        slope = 1 - a[l] ** 2 if activations[l] == "tanh" else hidden[l].dh(a[l], np)
        delta.insert(0, slope * (delta[0] @ weights[l + 1]))
    grad_w, grad_b = reference_impl.gradients(delta, z)
    return {"loss": E.value(a[-1], t), "deltas": delta, "grad_weights": grad_w,
            "grad_biases": grad_b}


def raises_on_ce(weights, biases, activations, loss, x, t):
    if loss == "ce":
        raise RuntimeError("softmax not implemented")
    return reference_impl.backprop(weights, biases, activations, loss, x, t)


def nan_when_deep(weights, biases, activations, loss, x, t):
    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    if len(weights) >= 3:
        out["deltas"][0] = out["deltas"][0] * np.nan
    return out


def only_tanh_and_relu(weights, biases, activations, loss, x, t):
    assert set(activations) <= {"tanh", "relu"}, activations
    return reference_impl.backprop(weights, biases, activations, loss, x, t)


only_tanh_and_relu.activations = ("tanh", "relu")

SQUARE = Activation("square", h=lambda a, xp: a * a, dh=lambda a, xp: 2 * a)
WRONG_SQUARE = Activation("wrong_square", h=lambda a, xp: a * a, dh=lambda a, xp: a)
NOT_AN_ACTIVATION = 42


def raises_floating_point_errors(weights, biases, activations, loss, x, t):
    """Correct values, but leaves numpy raising on every floating-point warning."""
    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    np.seterr(all="raise")
    return out


def sets_global_state(weights, biases, activations, loss, x, t):
    """Correct values, but changes torch's default dtype and threads and warning filters."""
    import warnings

    import torch

    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    warnings.simplefilter("error")
    return out


def noisy_output_error(weights, biases, activations, loss, x, t):
    """Right on average, different on every call: unseeded noise on the output error."""
    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    noise = np.random.default_rng().normal(size=out["deltas"][-1].shape)
    out["deltas"][-1] = out["deltas"][-1] * (1 + 1e-3 * noise)
    return out


def dies_in_a_worker(weights, biases, activations, loss, x, t):
    """The reference, slowed down in the calling process (so that a --workers process surely
    takes a slice); a worker process running it leaves a mark and dies on its first case."""
    import multiprocessing
    import os
    import tempfile
    import time
    from pathlib import Path

    parent = multiprocessing.parent_process()
    if parent is not None:
        Path(tempfile.gettempdir(), f"deltacheck-test-worker-died-{parent.pid}").touch()
        os._exit(3)
    time.sleep(0.1)
    return reference_impl.backprop(weights, biases, activations, loss, x, t)
