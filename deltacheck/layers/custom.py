"""Declared layers: a custom ``Layer`` written against ``xp``, and a framework's custom-backward
function (``--as function``), each with a signature in symbolic dimensions.

A signature names the differentiable inputs in call order with their shapes, and the
hyperparameters that follow them::

    {"inputs": {"x": ("N", "D"), "w": ("D", "M")},   # a symbol is drawn once per case
     "params": {"eps": 1e-5, "stride": [1, 2]},        # a list: one of its values per case
     "sizes": {"D": (1, 6)}}                           # a symbol's range (default 1 to 4)

A ``Layer``'s forward ``forward(*inputs, *params, xp)`` is written once against the array API,
as activations are: numpy gives the reference and the differences, torch's and jax's namespaces
give autograd. Its backward under test is ``backward(dout, cache)``, the cache made by
``cached_forward(*inputs, *params) -> (out, cache)`` (default: the inputs and params as a
tuple), or a VJP function ``vjp(dout, *inputs, *params)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deltacheck.core.errors import DeltacheckError
from deltacheck.layers import running_functions
from deltacheck.oracles.layers import Kind, functions

DEFAULT_SIZES = (1, 4)
SIGNATURE_ATTRIBUTE = "deltacheck_signature"
FRAMEWORKS = ("numpy", "torch", "jax")


@dataclass(frozen=True)
class Signature:
    """Inputs in call order with their symbolic shapes, params with their values, sizes."""

    inputs: tuple[tuple[str, tuple[str | int, ...]], ...]
    params: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    sizes: tuple[tuple[str, tuple[int, int]], ...] = ()


def parse_signature(inputs: Any, params: Any = None, sizes: Any = None, *,
                    argument: str = "signature") -> Signature:
    """A checked ``Signature``; a malformed one raises DeltacheckError saying how to write it."""
    example = '{"x": ("N", "D"), "w": ("D", "M")}'
    if not isinstance(inputs, Mapping) or not inputs:
        raise DeltacheckError(f"{argument}: inputs must be a dict of names to shapes, e.g. "
                              f"{example}; got {type(inputs).__name__}")
    parsed = []
    for name, dims in inputs.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise DeltacheckError(f"{argument}: input name {name!r} must be an identifier")
        if isinstance(dims, str) or not isinstance(dims, (tuple, list)) or not all(
                (isinstance(d, str) and d.isidentifier()) or (isinstance(d, int) and d > 0)
                for d in dims):
            raise DeltacheckError(f"{argument}: the shape of {name!r} must be a tuple of "
                                  f"symbols and positive sizes, e.g. ('N', 'D') or ('N', 3); "
                                  f"got {dims!r}")
        parsed.append((name, tuple(dims)))
    params = dict(params or {})
    if not all(isinstance(k, str) and k.isidentifier() for k in params):
        raise DeltacheckError(f"{argument}: param names must be identifiers, got {list(params)}")
    choices = tuple((k, tuple(v) if isinstance(v, (list, tuple)) else (v,))
                    for k, v in params.items())
    if any(not values for _, values in choices):
        raise DeltacheckError(f"{argument}: a param's list of values must not be empty")
    ranges = []
    for symbol, span in dict(sizes or {}).items():
        if not (isinstance(span, (tuple, list)) and len(span) == 2
                and all(isinstance(s, int) for s in span) and 1 <= span[0] <= span[1]):
            raise DeltacheckError(f"{argument}: sizes[{symbol!r}] must be (low, high) with "
                                  f"1 <= low <= high, e.g. (1, 6); got {span!r}")
        ranges.append((symbol, (int(span[0]), int(span[1]))))
    return Signature(tuple(parsed), choices, tuple(ranges))


@dataclass(frozen=True)
class Layer:
    """A user-declared layer: ``forward(*inputs, *params, xp)`` written once against the array
    API, its inputs' symbolic shapes and its params, and the hand-written backward under test:
    ``backward(dout, cache)`` or ``vjp(dout, *inputs, *params)``."""

    name: str
    forward: Callable[..., Any]
    inputs: Mapping[str, tuple[str | int, ...]]
    params: Mapping[str, Any] = field(default_factory=dict)
    backward: Callable[..., Any] | None = None
    vjp: Callable[..., Any] | None = None
    cached_forward: Callable[..., Any] | None = None
    sizes: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    frameworks: tuple[str, ...] = FRAMEWORKS  # ("numpy",): a numpy-only forward, fd alone

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise DeltacheckError(f"Layer name={self.name!r} must be an identifier, e.g. "
                                  "'scaled_matmul'")
        if not callable(self.forward):
            raise DeltacheckError(f"Layer {self.name!r}: forward must be a callable "
                                  "forward(*inputs, *params, xp)")
        if (self.backward is None) == (self.vjp is None):
            raise DeltacheckError(f"Layer {self.name!r}: give exactly one of backward="
                                  "backward(dout, cache) or vjp=vjp(dout, *inputs, *params)")
        if self.cached_forward is not None and not callable(self.cached_forward):
            raise DeltacheckError(f"Layer {self.name!r}: cached_forward must be a callable "
                                  "returning (out, cache)")
        if not set(self.frameworks) <= set(FRAMEWORKS) or "numpy" not in self.frameworks:
            raise DeltacheckError(f"Layer {self.name!r}: frameworks={self.frameworks!r} must "
                                  f"hold 'numpy' and only {', '.join(FRAMEWORKS)}")
        self.signature()

    def signature(self) -> Signature:
        """The checked signature of the layer."""
        return parse_signature(self.inputs, self.params, self.sizes, argument=f"Layer "
                               f"{self.name!r}")

    def pair(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """The layer as a course pair: ``forward(*args) -> (out, cache)`` and its backward."""
        if self.cached_forward is not None:
            forward = self.cached_forward
        else:
            import numpy as np

            def forward(*args: Any) -> tuple[Any, Any]:
                return self.forward(*args, np), args

        if self.backward is not None:
            return forward, self.backward
        vjp = self.vjp
        assert vjp is not None
        return forward, lambda dout, cache: vjp(dout, *cache)

    def kind(self) -> Kind:
        """The declared kind: the xp forward in every framework the layer runs in."""
        def reference(be: Any, *args: Any) -> Any:
            return self.forward(*args, be.xp)

        return _kind(f"layer:{self.name}", self.signature(),
                     tuple((fw, reference) for fw in self.frameworks))


def _kind(name: str, sig: Signature, forwards: tuple[tuple[str, Any], ...]) -> Kind:
    names = tuple(n for n, _ in sig.inputs)
    return Kind(name, inputs=names, params=tuple(p for p, _ in sig.params),
                grads=tuple(f"d{n}" for n in names), forwards=forwards, dims=sig.inputs,
                choices=sig.params, sizes=sig.sizes)


def function_signature(obj: Any, declared: Any, argument: str) -> Signature:
    """The signature beside a function: ``declared`` (from ``--signature``) or its attribute."""
    value = declared if declared is not None else getattr(obj, SIGNATURE_ATTRIBUTE, None)
    if value is None:
        raise DeltacheckError(f"{argument}: no signature; set {SIGNATURE_ATTRIBUTE} = "
                              '{"inputs": {"x": ("N", "D")}} on the function, or give '
                              "--signature MODULE:NAME")
    if not isinstance(value, Mapping) or "inputs" not in value or \
            not set(value) <= {"inputs", "params", "sizes"}:
        raise DeltacheckError(f"{argument}: the signature must be a dict with 'inputs' and "
                              f"optionally 'params' and 'sizes'; got {value!r:.80}")
    return parse_signature(value["inputs"], value.get("params"), value.get("sizes"),
                           argument=argument)


def function_parts(obj: Any, name: str, declared: Any, argument: str
                   ) -> tuple[Kind, Callable[..., Any], Callable[..., Any], str]:
    """A torch.autograd.Function or jax.custom_vjp as a kind, its pair, and its framework."""
    framework = functions.require(obj, argument)
    sig = function_signature(obj, declared, argument)
    n = len(sig.inputs)
    forward, backward = running_functions.user_pair(obj, framework, n)
    kind = _kind(f"function:{name}", sig, functions.references(obj, framework, n))
    return kind, forward, backward, framework
