"""A minimal hand-written backpropagation in numpy: the implementation deltacheck checks by default."""

from deltacheck.reference_impl.activations import DERIVATIVES, derivative
from deltacheck.reference_impl.losses import LOSSES, Loss
from deltacheck.reference_impl.network import backprop, backward, forward, gradients
from deltacheck.reference_impl.training import sgd, sgd_steps

__all__ = [
    "DERIVATIVES",
    "LOSSES",
    "Loss",
    "backprop",
    "backward",
    "derivative",
    "forward",
    "gradients",
    "sgd",
    "sgd_steps",
]
