"""Independent oracles for the gradients of a network: torch autograd, jax grad, finite differences.

Every oracle module has ``name`` and ``gradients(weights, biases, activations, loss, x, t)``
returning :class:`oracles.base.Gradients` in float64, where ``activations`` are activation
objects. One that computes asynchronously (jax) also has ``start(...)``, with the same
arguments, returning a function that waits for the result and returns the same Gradients,
and ``prepare()``, which compiles ahead of the first case on a thread (``prepare(names)``
here calls it). Frameworks are imported only when an oracle runs; a missing one raises
:class:`oracles.base.OracleUnavailable` with the install command.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from deltacheck.core.errors import DeltacheckError
from deltacheck.core.gradients import Gradients
from deltacheck.core.tolerances import FD_STEP
from deltacheck.oracles.base import OracleError, OracleUnavailable

NAMES = ("torch", "jax", "fd")
_MODULES = {"torch": "deltacheck.oracles.torch_oracle", "jax": "deltacheck.oracles.jax_oracle",
            "fd": "deltacheck.oracles.fd"}
_FRAMEWORKS = {"torch": ("torch", "array_api_compat"), "jax": ("jax",), "fd": ()}


def get(name: str) -> ModuleType:
    """The oracle module called ``name``."""
    if name not in _MODULES:
        raise DeltacheckError(f"unknown oracle {name!r}; choose from {', '.join(NAMES)}")
    return importlib.import_module(_MODULES[name])


def checked_names(names: Any, *, argument: str = "oracle_names") -> list[str]:
    """A list of known oracle names; a bare string or an unknown name is a DeltacheckError."""
    if isinstance(names, str):  # "fd" would be iterated as "f", "d"
        raise DeltacheckError(f"{argument}={names!r} is one string; give a list of names, e.g. "
                              f"{argument}={names.split(',')!r}")
    try:
        names = list(names)
    except TypeError:
        raise DeltacheckError(f"{argument}={names!r} must be a list of oracle names from "
                              f"{', '.join(NAMES)}") from None
    unknown = [n for n in names if n not in NAMES]
    if unknown or not names:
        what = f"has unknown {', '.join(map(repr, unknown))}" if unknown else "is empty"
        raise DeltacheckError(f"{argument} {what}; choose from {', '.join(NAMES)}")
    return names


def unavailable_reason(name: str) -> str | None:
    """Why oracle ``name`` cannot run here (its framework is missing), or None if it can."""
    for module in _FRAMEWORKS[name]:
        try:  # importing, not just finding: a broken install must be caught here too
            importlib.import_module(module)
        except ImportError as exc:
            hint = {"torch": "pip install torch==2.13.0 array-api-compat",
                    "jax": "pip install jax"}[name]
            return f"the {name} oracle needs {module} ({exc}): {hint}"
    return None


def prepare(names: Any) -> Any:
    """Start, in the background, what the oracles ``names`` would do on their first case.

    The jax oracle compiles its function on a thread (see jax_oracle.prepare); the caller goes
    on meanwhile (importing torch takes as long). Returns what was started, with a ``wait()``
    that the caller must call before the process exits (a run that ends early included): JAX
    writes a compilation to its persistent cache without making the write atomic, and a
    process that exits in the middle would leave a broken entry that every later run reads.
    None if nothing was started. A missing framework is left to ``unavailable_reason``.
    """
    if "jax" in names and unavailable_reason("jax") is None:
        return get("jax").prepare()
    return None


__all__ = ["FD_STEP", "NAMES", "Gradients", "OracleError", "OracleUnavailable", "checked_names",
           "get", "prepare", "unavailable_reason"]
