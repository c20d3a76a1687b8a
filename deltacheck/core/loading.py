"""Load user code named on the command line: ``MODULE:NAME`` or ``path/to/file.py:NAME``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import math
import numbers
import os
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

from deltacheck.core.errors import DeltacheckError, exception_text
from deltacheck.core.words import a_type


def load_object(spec: str, *, argument: str) -> Any:
    """The object named by ``spec``; ``argument`` names the option in error messages."""
    if ":" not in spec:
        raise DeltacheckError(f"{argument} {spec!r} must look like MODULE:NAME or "
                              f"path/to/file.py:NAME")
    where, _, name = spec.rpartition(":")
    if not where or not name.isidentifier():
        raise DeltacheckError(f"{argument} {spec!r} must look like MODULE:NAME or "
                              f"path/to/file.py:NAME")
    module = load_module(where, argument=argument)
    try:
        return getattr(module, name)
    except AttributeError:
        raise DeltacheckError(f"{argument} {spec!r}: {where} has no attribute {name!r}") from None
    except Exception as exc:  # a module-level __getattr__ of the user's
        raise DeltacheckError(f"{argument} {spec!r}: looking up {name!r} raised "
                              f"{type(exc).__name__}: {exception_text(exc)}") from None


def load_module(where: str, *, argument: str) -> Any:
    """The module ``where`` names: a dotted module path, or a .py file (imported as part of its
    package when its folder is one, so that ``from .layers import *`` works)."""
    if not where.endswith(".py"):
        return _load_module(where, argument)
    dotted = _package_name(Path(where))
    return _load_module(dotted, argument) if dotted else _load_file(where, argument)


def _package_name(file: Path) -> str | None:
    """``pkg.sub.mod`` for a file inside a package (folders with __init__.py), else None."""
    if not file.is_file() or not (file.parent / "__init__.py").is_file():
        return None
    parts, folder = [file.resolve().stem], file.resolve().parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if not all(part.isidentifier() for part in parts):
        return None
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return ".".join(parts)


def _load_module(dotted: str, argument: str) -> Any:
    if os.getcwd() not in sys.path:  # console scripts do not put the working directory there
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError as exc:
        raise DeltacheckError(f"{argument}: cannot import {dotted!r} ({exc}); check the module "
                              f"name, or give a file path like path/to/file.py:NAME") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: user code must not end deltacheck silently
        raise DeltacheckError(_import_failed(argument, f"importing {dotted!r}", exc)) from None


def _import_failed(argument: str, doing: str, exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return (f"{argument}: {doing} called sys.exit({exception_text(exc)}); put the module's "
                f"script code under if __name__ == '__main__':")
    return (f"{argument}: {doing} raised {type(exc).__name__}: {exception_text(exc)}; fix the "
            f"module so that it imports cleanly")


def _load_file(path: str, argument: str) -> Any:
    file = Path(path)
    if not file.is_file():
        raise DeltacheckError(f"{argument}: no file {path!r}; give an existing .py file")
    resolved = file.resolve()
    name = "deltacheck_user_" + hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise DeltacheckError(f"{argument}: {path!r} cannot be loaded as a Python module; give "
                              f"a .py file")
    module = importlib.util.module_from_spec(spec)
    # The file's folder stays on sys.path, as under `python file.py`: the implementation may
    # import a helper module beside it when it is called, not only when it is loaded.
    if str(resolved.parent) not in sys.path:
        sys.path.insert(0, str(resolved.parent))
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except KeyboardInterrupt:
        sys.modules.pop(name, None)
        raise
    except BaseException as exc:  # SystemExit too: user code must not end deltacheck silently
        sys.modules.pop(name, None)
        raise DeltacheckError(_import_failed(argument, f"running {path!r}", exc)) from None
    return module


def load_implementation(spec: str) -> Any:
    """An implementation under test: any callable following the protocol."""
    impl = load_object(spec, argument="--impl")
    if not callable(impl):
        raise DeltacheckError(f"--impl {spec!r} is {a_type(impl)}, not a callable "
                              f"backprop(weights, biases, activations, loss, x, t)")
    return impl


def load_activation(spec: str, *, argument: str = "--activation") -> Any:
    """A user's activation: an object with ``name``, ``h(a, xp)``, ``dh(a, xp)``."""
    act = load_object(spec, argument=argument)
    missing = [attr for attr in ("name", "h", "dh") if not hasattr(act, attr)]
    if missing:
        raise DeltacheckError(f"{argument} {spec!r} lacks {', '.join(missing)}; an activation "
                              f"has name, h(a, xp) and dh(a, xp), e.g. deltacheck.Activation")
    if not isinstance(act.name, str) or not act.name.isidentifier():
        raise DeltacheckError(f"{argument} {spec!r}: name={act.name!r} must be an identifier")
    if not callable(act.h) or not callable(act.dh):
        raise DeltacheckError(f"{argument} {spec!r}: h and dh must be callables h(a, xp)")
    kinks = getattr(act, "kinks", None)
    if kinks is not None and not _finite_numbers(kinks):
        raise DeltacheckError(f"{argument} {spec!r}: kinks={kinks!r:.60} must be a sequence of "
                              f"finite numbers, e.g. kinks=(0.0,), or left out")
    return act


def _finite_numbers(values: Any) -> bool:
    if isinstance(values, (str, bytes)) or not isinstance(values, Collection):
        return False
    try:
        items = list(values)
    except Exception:
        return False
    return all(isinstance(k, numbers.Real) and not isinstance(k, bool) and math.isfinite(k)
               for k in items)
