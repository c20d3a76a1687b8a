"""A minimal hand-written backpropagation in numpy: the implementation deltacheck checks by default."""

from reference_impl.activations import BUILTIN_NAMES, BUILTINS, REGISTRY, Activation
from reference_impl.losses import LOSSES, Loss
from reference_impl.network import backprop, backward, forward, gradients
from reference_impl.training import sgd

__all__ = [
    "BUILTINS",
    "BUILTIN_NAMES",
    "LOSSES",
    "REGISTRY",
    "Activation",
    "Loss",
    "backprop",
    "backward",
    "forward",
    "gradients",
    "sgd",
]
