"""The jax VJP of a layer reference compiled once per shape and settings.

Run op by op, jax compiles every primitive of a reference for every new shape: a group norm's
VJP took about 1.8 s per new shape on a CPU, most of a layer campaign's time. ``jax.jit`` of
the whole VJP compiles it as one program (about 0.35 s) and runs again in about a millisecond;
the compiled function is kept per kind, input shapes and settings (their values: the settings
are constants of the program). A reference whose Python reads a traced value falls back to the
op-by-op VJP.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deltacheck.oracles.layers.kinds import Kind

_COMPILED: dict[tuple[Any, ...], Callable[..., Any]] = {}
_EAGER: set[str] = set()  # kinds whose reference cannot be traced
LIMIT = 256  # compiled functions kept


def _digest(value: Any) -> Any:
    """A hashable stand-in for a setting: arrays by their bytes, dicts by their items."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), _digest(v)) for k, v in value.items()))
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value).tobytes()
        return (value.shape, str(value.dtype), hashlib.sha1(data).hexdigest())
    return repr(value)


def vjp(kind: Kind, be: Any, out: Callable[..., Any], values: Sequence[np.ndarray],
        settings: Sequence[Any], dout: np.ndarray) -> list[Any]:
    """The gradients of ⟨dout, out(*values)⟩ by jax, compiled once per kind, shapes and
    settings; ``out`` closes over ``settings`` (converted)."""
    import jax

    if kind.name in _EAGER:
        return be.vjp(out, [be.array(v) for v in values], dout)
    key = (kind.name, tuple((np.shape(v), str(np.asarray(v).dtype)) for v in values),
           dout.shape, _digest(list(settings)))
    compiled = _COMPILED.get(key)
    if compiled is None:
        if len(_COMPILED) >= LIMIT:
            _COMPILED.clear()

        def pullback(*args: Any) -> Any:
            return be.vjp(out, list(args[:-1]), args[-1])

        compiled = jax.jit(pullback)
    try:
        grads = compiled(*[be.array(v) for v in values], dout)
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError,
            jax.errors.TracerIntegerConversionError, jax.errors.TracerArrayConversionError):
        _EAGER.add(kind.name)
        return be.vjp(out, [be.array(v) for v in values], dout)
    _COMPILED[key] = compiled
    return list(grads)
