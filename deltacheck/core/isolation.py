"""Each call of an implementation under test leaves the harness's global state as it found it.

An implementation may call ``np.seterr(all="raise")``, turn warnings into errors, change
torch's default dtype or thread count, or switch on jax's x64 flag. None of that may crash
or bias the comparison that follows, so every call runs inside ``isolated()``, which saves
these settings and restores them afterwards, whatever the call did or raised.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

MESSAGE_CHARS = 200  # a warning's message is cut here: some carry whole arrays


def _torch_state() -> Callable[[], None]:
    torch = sys.modules.get("torch")  # never import a framework just to save its settings
    if torch is None:
        return lambda: None
    dtype, threads, grad = (torch.get_default_dtype(), torch.get_num_threads(),
                            torch.is_grad_enabled())

    def restore() -> None:
        if torch.get_default_dtype() != dtype:
            torch.set_default_dtype(dtype)
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        torch.set_grad_enabled(grad)
    return restore


def _jax_state() -> Callable[[], None]:
    jax = sys.modules.get("jax")
    if jax is None or not hasattr(jax, "config"):
        return lambda: None
    x64 = bool(jax.config.jax_enable_x64)

    def restore() -> None:
        if bool(jax.config.jax_enable_x64) != x64:
            jax.config.update("jax_enable_x64", x64)
    return restore


@contextmanager
def isolated(caught: list[dict[str, Any]] | None = None) -> Iterator[None]:
    """Run the body with numpy's error state, warning filters, torch's and jax's settings saved.

    With ``caught``, every warning the body raises is recorded there instead of printed (one
    entry per distinct category, message and place, with its count): nothing of the
    implementation's lands in the middle of the run's own output.
    """
    restores = [_torch_state(), _jax_state()]
    errors = np.geterr()
    with warnings.catch_warnings(record=caught is not None) as record:
        if caught is not None:
            warnings.simplefilter("always")  # each one counted, not only the first
        try:
            yield
        finally:
            if record is not None and caught is not None:
                caught.extend(distinct_warnings(record))
            np.seterr(**errors)
            for restore in restores:
                try:
                    restore()
                except Exception:  # a framework left unusable is the oracle's to report
                    pass



def distinct_warnings(record: Iterable[warnings.WarningMessage]) -> list[dict[str, Any]]:
    """Warnings as ``{"category", "message", "where", "count"}``, one per distinct kind."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for w in record:
        message = " ".join(str(w.message).split())[:MESSAGE_CHARS]
        key = (w.category.__name__, message, f"{w.filename}:{w.lineno}")
        entry = found.setdefault(key, {"category": key[0], "message": key[1], "where": key[2],
                                       "count": 0})
        entry["count"] += 1
    return list(found.values())
