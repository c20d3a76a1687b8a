"""Load user code named on the command line: ``MODULE:NAME`` or ``path/to/file.py:NAME``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from deltacheck.errors import DeltacheckError


def load_object(spec: str, *, argument: str) -> Any:
    """The object named by ``spec``; ``argument`` names the option in error messages."""
    if ":" not in spec:
        raise DeltacheckError(f"{argument} {spec!r} must look like MODULE:NAME or "
                              f"path/to/file.py:NAME")
    where, _, name = spec.rpartition(":")
    if not where or not name.isidentifier():
        raise DeltacheckError(f"{argument} {spec!r} must look like MODULE:NAME or "
                              f"path/to/file.py:NAME")
    module = _load_file(where, argument) if where.endswith(".py") else _load_module(where, argument)
    try:
        return getattr(module, name)
    except AttributeError:
        raise DeltacheckError(f"{argument} {spec!r}: {where} has no attribute {name!r}") from None


def _load_module(dotted: str, argument: str) -> Any:
    if os.getcwd() not in sys.path:  # console scripts do not put the working directory there
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as exc:
        raise DeltacheckError(f"{argument}: cannot import {dotted!r} ({exc}); check the module "
                              f"name, or give a file path like path/to/file.py:NAME") from None
    except Exception as exc:
        raise DeltacheckError(f"{argument}: importing {dotted!r} raised "
                              f"{type(exc).__name__}: {exc}") from None


def _load_file(path: str, argument: str) -> Any:
    file = Path(path)
    if not file.is_file():
        raise DeltacheckError(f"{argument}: no file {path!r}; give an existing .py file")
    resolved = file.resolve()
    name = "deltacheck_user_" + hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(resolved.parent))  # so the file can import its neighbours
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise DeltacheckError(f"{argument}: running {path!r} raised "
                              f"{type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(resolved.parent))
    return module


def load_implementation(spec: str) -> Any:
    """An implementation under test: any callable following the protocol."""
    impl = load_object(spec, argument="--impl")
    if not callable(impl):
        raise DeltacheckError(f"--impl {spec!r} is a {type(impl).__name__}, not a callable "
                              f"backprop(weights, biases, activations, loss, x, t)")
    return impl


def load_activation(spec: str) -> Any:
    """A user's activation: an object with ``name``, ``h(a, xp)``, ``dh(a, xp)``."""
    act = load_object(spec, argument="--activation")
    missing = [attr for attr in ("name", "h", "dh") if not hasattr(act, attr)]
    if missing:
        raise DeltacheckError(f"--activation {spec!r} lacks {', '.join(missing)}; an activation "
                              f"has name, h(a, xp) and dh(a, xp), e.g. deltacheck.Activation")
    if not isinstance(act.name, str) or not act.name.isidentifier():
        raise DeltacheckError(f"--activation {spec!r}: name={act.name!r} must be an identifier")
    if not callable(act.h) or not callable(act.dh):
        raise DeltacheckError(f"--activation {spec!r}: h and dh must be callables h(a, xp)")
    return act
