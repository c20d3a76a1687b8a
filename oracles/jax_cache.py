"""JAX for the oracles: imported in one place, with its persistent compilation cache.

JAX compiles for every new program and shape; the compiled code is kept between runs in
``cache_dir()``, so that a run loads what an earlier run compiled.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from deltacheck.oracles.base import OracleUnavailable

CACHE_ENV = "DELTACHECK_JAX_CACHE"
_CACHE_MAX_BYTES = 512 * 2**20
_cache_configured = False


def cache_dir() -> Path | None:
    """Where compiled oracles are kept between runs; None when $DELTACHECK_JAX_CACHE is off.

    $DELTACHECK_JAX_CACHE names a folder (or "off"); by default it is deltacheck/jax in the
    user cache folder ($XDG_CACHE_HOME, else ~/.cache; %LOCALAPPDATA% on Windows).
    """
    given = os.environ.get(CACHE_ENV)
    if given is not None:
        off = given.strip().lower() in ("", "0", "off", "no", "false", "none")
        return None if off else Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.environ.get("LOCALAPPDATA")
    return (Path(base) if base else Path.home() / ".cache") / "deltacheck" / "jax"


def _use_persistent_cache(jax: Any) -> None:
    """Point JAX's persistent compilation cache at cache_dir(), unless the user set one."""
    global _cache_configured
    if _cache_configured:
        return
    _cache_configured = True
    folder = cache_dir()
    if folder is None or jax.config.jax_compilation_cache_dir:  # off, or the user's own
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: compile every run rather than fail
        return
    jax.config.update("jax_compilation_cache_dir", str(folder))
    # A size limit turns on JAX's file lock around every read and write of the cache, which
    # makes a folder shared by concurrent runs (workers, CI jobs) safe.
    jax.config.update("jax_compilation_cache_max_size", _CACHE_MAX_BYTES)
    # The oracle's compilation takes well under JAX's default threshold of 1 s on a fast
    # machine, and would then never be kept.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def jax_modules() -> tuple[Any, Any]:
    """``jax`` and ``jax.numpy``, with the persistent cache on; OracleUnavailable if missing."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        raise OracleUnavailable(
            "the jax oracle needs JAX: pip install jax, or leave it out with --oracles torch,fd"
        ) from None
    _use_persistent_cache(jax)
    return jax, jnp
