"""The layer kinds of the course conventions: what each one takes and what its backward returns."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from deltacheck.core import activations as registry
from deltacheck.core.errors import DeltacheckError

ACTIVATION_PREFIX = "act:"


@dataclass(frozen=True)
class Kind:
    """One kind of layer: its inputs and parameters in call order, and its gradients in order.

    ``inputs`` are the differentiable arguments of ``<forward_name>(*inputs, *params)``;
    ``grads`` are what ``<backward_name>(dout, cache)`` returns, one per input, in order. A loss
    (``loss=True``) has no backward: ``<forward_name>(*inputs, *params)`` returns ``(loss, dx)``.
    ``reference_params`` are what the reference needs beyond the course's call: the random
    draws of the user's forward, read back from it (dropout's ``mask``). ``outputs`` names what
    a forward returns before its cache when it returns more than one array (lstm_step's
    ``next_h, next_c``): the reference stacks them into one ``out`` and the backward takes one
    upstream gradient per output. ``signature`` is the user's call order where it is not
    ``inputs + params`` (word_embedding takes the integer words before ``W``).

    A declared kind (a custom layer, a framework's custom-backward function) carries its own
    reference: ``forwards`` maps a framework to ``fn(backend, *inputs, *params) -> out``, and
    ``dims`` gives each input's shape in symbolic dimensions (``("N", "D")``), ``sizes`` the
    range a symbol is drawn from (1 to 4 unless given), and ``choices`` each parameter's
    values.
    """

    name: str
    inputs: tuple[str, ...]
    params: tuple[str, ...]
    grads: tuple[str, ...]
    loss: bool = False
    forward_name: str = ""
    backward_names: tuple[str, ...] = ()
    reference_params: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ("out",)
    signature: tuple[str, ...] = ()
    forwards: tuple[tuple[str, Callable[..., Any]], ...] = ()
    dims: tuple[tuple[str, tuple[str | int, ...]], ...] = ()
    choices: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    sizes: tuple[tuple[str, tuple[int, int]], ...] = ()  # a symbol's drawn range

    def __post_init__(self) -> None:
        if len(self.grads) != len(self.inputs):
            raise ValueError(f"Kind {self.name!r}: grads={self.grads} must name one gradient "
                             f"per input of {self.inputs}")
        if not self.forward_name:
            object.__setattr__(self, "forward_name", f"{self.base}_forward")
        if not self.backward_names and not self.loss:
            object.__setattr__(self, "backward_names", (f"{self.base}_backward",))
        if not self.signature:
            object.__setattr__(self, "signature", self.inputs + self.params)

    @property
    def base(self) -> str:
        """The name without ``act:`` (``tanh`` for ``act:tanh``): what course files call it."""
        return self.name.removeprefix(ACTIVATION_PREFIX)

    def reference(self, framework: str) -> Callable[..., Any] | None:
        """A declared kind's forward in ``framework`` (None where it has none)."""
        return dict(self.forwards).get(framework)

    @property
    def activation(self) -> str | None:
        """The activation's registry name for ``relu`` and ``act:NAME``, else None."""
        if self.name == "relu":
            return "relu"
        return self.base if self.name.startswith(ACTIVATION_PREFIX) else None


_NORM_INPUTS, _NORM_GRADS = ("x", "gamma", "beta"), ("dx", "dgamma", "dbeta")


def _elementwise(name: str) -> Kind:
    return Kind(name, inputs=("x",), params=(), grads=("dx",))


_FIXED = (
    Kind("affine", inputs=("x", "w", "b"), params=(), grads=("dx", "dw", "db")),
    _elementwise("relu"),
    Kind("batchnorm", params=("bn_param",),
         backward_names=("batchnorm_backward", "batchnorm_backward_alt"), inputs=_NORM_INPUTS,
         grads=_NORM_GRADS),
    Kind("layernorm", params=("ln_param",), inputs=_NORM_INPUTS, grads=_NORM_GRADS),
    Kind("dropout", inputs=("x",), params=("dropout_param",), grads=("dx",),
         reference_params=("mask",)),
    Kind("conv", inputs=("x", "w", "b"), params=("conv_param",), grads=("dx", "dw", "db"),
         forward_name="conv_forward_naive", backward_names=("conv_backward_naive",)),
    Kind("max_pool", inputs=("x",), params=("pool_param",), grads=("dx",),
         forward_name="max_pool_forward_naive", backward_names=("max_pool_backward_naive",)),
    Kind("spatial_batchnorm", params=("bn_param",), inputs=_NORM_INPUTS, grads=_NORM_GRADS),
    Kind("spatial_groupnorm", params=("G", "gn_param"), inputs=_NORM_INPUTS, grads=_NORM_GRADS),
    Kind("softmax_loss", inputs=("x",), params=("y",), grads=("dx",), loss=True,
         forward_name="softmax_loss"),
    Kind("svm_loss", inputs=("x",), params=("y",), grads=("dx",), loss=True,
         forward_name="svm_loss"),
    # the recurrent kinds (course conventions: LSTM gates i, f, o, g; Wx (D, 4H))
    Kind("rnn_step", inputs=("x", "prev_h", "Wx", "Wh", "b"), params=(),
         grads=("dx", "dprev_h", "dWx", "dWh", "db")),
    Kind("rnn", inputs=("x", "h0", "Wx", "Wh", "b"), params=(),
         grads=("dx", "dh0", "dWx", "dWh", "db")),
    Kind("lstm_step", inputs=("x", "prev_h", "prev_c", "Wx", "Wh", "b"), params=(),
         grads=("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), outputs=("next_h", "next_c")),
    Kind("lstm", inputs=("x", "h0", "Wx", "Wh", "b"), params=(),
         grads=("dx", "dh0", "dWx", "dWh", "db")),
    Kind("word_embedding", inputs=("W",), params=("x",), grads=("dW",), signature=("x", "W")),
    Kind("temporal_affine", inputs=("x", "w", "b"), params=(), grads=("dx", "dw", "db")),
    Kind("temporal_softmax_loss", inputs=("x",), params=("y", "mask"), grads=("dx",), loss=True,
         forward_name="temporal_softmax_loss"),
    # the sandwich layers of the course's layer_utils.py: compositions of the kinds above
    Kind("affine_relu", inputs=("x", "w", "b"), params=(), grads=("dx", "dw", "db")),
    Kind("affine_bn_relu", inputs=("x", "w", "b", "gamma", "beta"), params=("bn_param",),
         grads=("dx", "dw", "db", "dgamma", "dbeta")),
    Kind("affine_ln_relu", inputs=("x", "w", "b", "gamma", "beta"), params=("ln_param",),
         grads=("dx", "dw", "db", "dgamma", "dbeta")),
    Kind("conv_relu", inputs=("x", "w", "b"), params=("conv_param",), grads=("dx", "dw", "db")),
    Kind("conv_relu_pool", inputs=("x", "w", "b"), params=("conv_param", "pool_param"),
         grads=("dx", "dw", "db")),
    Kind("conv_bn_relu", inputs=("x", "w", "b", "gamma", "beta"),
         params=("conv_param", "bn_param"), grads=("dx", "dw", "db", "dgamma", "dbeta")),
)

# each sandwich as its stages: (kind, the inputs it takes besides the last output, its params)
SANDWICHES: dict[str, tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]] = {
    "affine_relu": (("affine", ("w", "b"), ()), ("relu", (), ())),
    "affine_bn_relu": (("affine", ("w", "b"), ()),
                       ("batchnorm", ("gamma", "beta"), ("bn_param",)), ("relu", (), ())),
    "affine_ln_relu": (("affine", ("w", "b"), ()),
                       ("layernorm", ("gamma", "beta"), ("ln_param",)), ("relu", (), ())),
    "conv_relu": (("conv", ("w", "b"), ("conv_param",)), ("relu", (), ())),
    "conv_relu_pool": (("conv", ("w", "b"), ("conv_param",)), ("relu", (), ()),
                       ("max_pool", (), ("pool_param",))),
    "conv_bn_relu": (("conv", ("w", "b"), ("conv_param",)),
                     ("spatial_batchnorm", ("gamma", "beta"), ("bn_param",)), ("relu", (), ())),
}

RECURRENT = ("rnn_step", "rnn", "lstm_step", "lstm", "word_embedding", "temporal_affine",
             "temporal_softmax_loss")

KINDS: dict[str, Kind] = {
    **{kind.name: kind for kind in _FIXED},
    **{f"{ACTIVATION_PREFIX}{name}": _elementwise(f"{ACTIVATION_PREFIX}{name}")
       for name in registry.BUILTIN_NAMES},
}


_DECLARED: dict[str, Kind] = {}


@contextmanager
def declared(kind: Kind) -> Iterator[Kind]:
    """``kind`` found by name (``get_kind``) for the duration of a ``with`` block."""
    if kind.name in KINDS:
        raise DeltacheckError(f"layer name {kind.name!r} is a built-in kind; pick another name")
    before = _DECLARED.get(kind.name)
    _DECLARED[kind.name] = kind
    try:
        yield kind
    finally:
        if before is None:
            _DECLARED.pop(kind.name, None)
        else:
            _DECLARED[kind.name] = before


def get_kind(name: str | Kind) -> Kind:
    """The kind called ``name``; ``act:NAME`` also finds an activation registered for the run."""
    if isinstance(name, Kind):
        return name
    if name in KINDS:
        return KINDS[name]
    if name in _DECLARED:
        return _DECLARED[name]
    if isinstance(name, str) and name.startswith(ACTIVATION_PREFIX):
        if name.removeprefix(ACTIVATION_PREFIX) in registry.REGISTRY:
            return _elementwise(name)
        raise DeltacheckError(f"layer kind {name!r}: no activation called "
                              f"{name.removeprefix(ACTIVATION_PREFIX)!r} is registered; choose "
                              f"from {', '.join(sorted(registry.REGISTRY))}, or add yours "
                              "with --activation MODULE:NAME")
    raise DeltacheckError(f"unknown layer kind {name!r}; choose from "
                          f"{', '.join(k for k in KINDS if not k.startswith(ACTIVATION_PREFIX))}"
                          f" or {ACTIVATION_PREFIX}NAME for an activation, e.g. act:tanh")
