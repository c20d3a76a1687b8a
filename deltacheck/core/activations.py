"""Hidden-layer activations z = h(a), each with its hand-written derivative h'(a).

Every h and dh is written once against an array-API namespace ``xp`` (numpy here; torch's
and jax's in the oracles), so a user's activation runs unchanged everywhere. Functions that
can overflow are written in their stable forms: they stay finite for |a| up to 1e3.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltacheck.core.errors import DeltacheckError

ArrayFn = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Activation:
    """An activation: ``h(a, xp)``, its hand-written derivative ``dh(a, xp)`` and its kinks."""

    name: str
    h: ArrayFn
    dh: ArrayFn
    kinks: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"Activation name={self.name!r} must be an identifier, e.g. 'swish'")
        if not callable(self.h) or not callable(self.dh):
            raise ValueError(f"Activation {self.name!r}: h and dh must be callables h(a, xp)")
        object.__setattr__(self, "kinks", tuple(float(k) for k in self.kinks))


def _sigmoid(a, xp):
    # σ(a) = exp(−log(1 + e^{−a})): never overflows, for any sign of a.
    return xp.exp(-xp.logaddexp(xp.zeros_like(a), -a))


def _softplus(a, xp):
    return xp.logaddexp(xp.zeros_like(a), a)


def _numpy_erf() -> Any:
    """scipy's erf (vectorised, within a few ulp of math.erf), else math.erf entry by entry."""
    try:
        from scipy.special import erf
    except ImportError:  # scipy comes with jax; without it, the slow way
        return lambda a: np.vectorize(math.erf, otypes=[a.dtype])(a) if a.size else a.copy()
    # in float64 whatever the dtype, as math.erf computes, then rounded to the dtype
    return lambda a: erf(np.asarray(a, dtype=np.float64)).astype(a.dtype, copy=False)


_NUMPY_ERF: list[Any] = []  # made on first use: importing scipy costs a fraction of a second


def _erf(a, xp):
    if xp is np:
        if not _NUMPY_ERF:
            _NUMPY_ERF.append(_numpy_erf())
        return _NUMPY_ERF[0](a)
    if hasattr(xp, "erf"):
        return xp.erf(a)
    if getattr(xp, "__name__", "").startswith("jax"):  # jax.numpy keeps erf in jax.scipy
        from jax.scipy.special import erf

        return erf(a)
    raise TypeError(f"the built-in gelu needs erf, which {xp.__name__} lacks")


def _gaussian_pdf(a, xp):
    return xp.exp(-0.5 * a * a) / math.sqrt(2.0 * math.pi)


def _gelu(a, xp):
    # h(a) = a Φ(a), Φ the standard normal CDF (the exact erf form).
    return a * 0.5 * (1.0 + _erf(a / math.sqrt(2.0), xp))


def _dgelu(a, xp):
    # h'(a) = Φ(a) + a φ(a)
    return 0.5 * (1.0 + _erf(a / math.sqrt(2.0), xp)) + a * _gaussian_pdf(a, xp)


def _non_positive(a, xp):
    # where, not minimum: autograd of minimum splits the gradient at a tie (a = 0).
    return xp.where(a > 0, xp.zeros_like(a), a)


def _elu(a, xp):
    # expm1 only of the non-positive part, so a large positive a never overflows.
    return xp.where(a > 0, a, xp.expm1(_non_positive(a, xp)))


def _delu(a, xp):
    return xp.where(a > 0, xp.ones_like(a), xp.exp(_non_positive(a, xp)))


LEAKY_SLOPE = 0.01

BUILTINS: tuple[Activation, ...] = (
    Activation("identity", h=lambda a, xp: a, dh=lambda a, xp: xp.ones_like(a)),
    Activation("tanh", h=lambda a, xp: xp.tanh(a), dh=lambda a, xp: 1.0 - xp.tanh(a) ** 2),
    Activation(
        "sigmoid",
        h=_sigmoid,
        dh=lambda a, xp: _sigmoid(a, xp) * _sigmoid(-a, xp),  # σ(a)(1 − σ(a)), without cancellation
    ),
    Activation(
        "relu",
        h=lambda a, xp: xp.where(a > 0, a, xp.zeros_like(a)),
        dh=lambda a, xp: xp.where(a > 0, xp.ones_like(a), xp.zeros_like(a)),
        kinks=(0.0,),
    ),
    Activation(
        "leaky_relu",
        h=lambda a, xp: xp.where(a > 0, a, LEAKY_SLOPE * a),
        dh=lambda a, xp: xp.where(a > 0, xp.ones_like(a), LEAKY_SLOPE * xp.ones_like(a)),
        kinks=(0.0,),
    ),
    Activation("softplus", h=_softplus, dh=_sigmoid),
    # ELU (α = 1) is differentiable at 0 (h'(0) = 1 from both sides): no kink. Its h'' jumps
    # there, which only widens the finite-difference oracle's own error bar.
    Activation("elu", h=_elu, dh=_delu),
    Activation("gelu", h=_gelu, dh=_dgelu),
    Activation(
        "silu",
        h=lambda a, xp: a * _sigmoid(a, xp),
        dh=lambda a, xp: _sigmoid(a, xp) * (1.0 + a * _sigmoid(-a, xp)),  # σ(1 + a(1 − σ))
    ),
    Activation(
        "softsign",
        h=lambda a, xp: a / (1.0 + xp.abs(a)),
        dh=lambda a, xp: 1.0 / (1.0 + xp.abs(a)) ** 2,
    ),
)

BUILTIN_NAMES: tuple[str, ...] = tuple(act.name for act in BUILTINS)

# The registry that activation names in the protocol refer to. Users add to it for a run
# with `registered(...)`; the built-ins cannot be replaced.
REGISTRY: dict[str, Any] = {act.name: act for act in BUILTINS}


def get(name: str) -> Any:
    """The registered activation called ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(f"unknown activation {name!r}; registered: {known}") from None


@contextmanager
def registered(extra: Mapping[str, Any] | list[Any]) -> Iterator[dict[str, Any]]:
    """Add activations to the registry for the duration of a ``with`` block."""
    items = list(extra.values()) if isinstance(extra, Mapping) else list(extra)
    added = []
    try:
        for act in items:
            if act.name in BUILTIN_NAMES:
                raise ValueError(f"activation name {act.name!r} is a built-in; pick another name")
            if act.name in REGISTRY and REGISTRY[act.name] is not act:
                raise ValueError(f"activation name {act.name!r} is already registered")
            if act.name not in REGISTRY:
                REGISTRY[act.name] = act
                added.append(act.name)
        yield REGISTRY
    finally:
        for name in added:
            REGISTRY.pop(name, None)


def declared_activations(impl: Callable[..., Any], *,
                         argument: str = "--impl") -> set[str] | None:
    """The names in the implementation's ``activations`` attribute (None if it has none)."""
    fix = (f"{argument}: the implementation's activations attribute must be a collection of "
           "activation names, e.g. backprop.activations = {'tanh', 'relu'}")
    try:
        declared = getattr(impl, "activations", None)
    except Exception as exc:  # a property of the user's that raises
        raise DeltacheckError(f"{fix}; reading it raised {type(exc).__name__}") from None
    if declared is None:
        return None
    if isinstance(declared, (str, bytes)) or not isinstance(declared, Collection):
        raise DeltacheckError(f"{fix}; got {type(declared).__name__} {declared!r:.40}")
    try:
        names = set(declared)
    except Exception:  # unhashable entries, or a collection that cannot be iterated
        raise DeltacheckError(f"{fix}; it cannot be read as a set of names") from None
    if not names or not all(isinstance(n, str) for n in names):
        held = ", ".join(sorted(map(repr, names))) or "nothing"
        raise DeltacheckError(f"{fix}; it holds {held:.80}")
    return names
