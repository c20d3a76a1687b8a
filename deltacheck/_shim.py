"""Old import paths kept working: a module that forwards every name to where it lives now."""

from __future__ import annotations

import importlib
import warnings
from typing import Any


def forwarder(old: str, new: str, *, warn: bool) -> Any:
    """A module ``__getattr__`` for ``old`` that reads each name from ``new``."""

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if warn:
            warnings.warn(f"{old} moved to {new}; import {name} from there", DeprecationWarning,
                          stacklevel=2)
        return getattr(importlib.import_module(new), name)

    return __getattr__
