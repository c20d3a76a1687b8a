"""``deltacheck layer --workers N --shard K/N``: the layers of a file shared out.

The unit of work is one layer: its campaign (draws, shrinking) is the same whichever process
runs it, because every process imports the same modules before it draws (Hypothesis draws
constants of the modules imported by then) and each layer's campaign is seeded alone. A shard
K/N checks the layers at positions K−1, K−1+N, ... of the file; ``--workers N`` checks the
layers in N processes that load the layer file again from its spec. A layer whose process dies
is checked again here: no result is lost. ``deltacheck merge`` joins the shards' documents.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from deltacheck.core.words import plural
from deltacheck.layers import discovery
from deltacheck.layers.runner import Settings, check_layer_spec

_FOUND: dict[str, discovery.Found] = {}  # a worker's layers, loaded once


def shard_indices(count: int, shard: tuple[int, int] | None) -> list[int]:
    """The positions of the layers that shard K/N checks (all of them without a shard)."""
    if shard is None:
        return list(range(count))
    k, n = shard
    return list(range(k - 1, count, n))


def settle() -> None:
    """Import what every process imports before it draws (see the module docstring)."""
    from deltacheck.campaign.slices import settle_imports

    settle_imports()


def _start(spec: str, as_kind: str | None, params: dict[str, Any]) -> None:
    settle()
    _FOUND["found"] = discovery.resolve(spec, as_kind=as_kind, params=params)


def _check(index: int, config: Settings) -> tuple[int, dict[str, Any]]:
    return index, check_layer_spec(_FOUND["found"].layers[index], config)


def _context() -> Any:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["numpy", "hypothesis", "torch", "jax", "jax.numpy",
                                    "array_api_compat"])
        return ctx
    return multiprocessing.get_context("spawn")


def check_in_processes(found: discovery.Found, indices: Sequence[int], config: Settings,
                       workers: int, respec: tuple[str, str | None, dict[str, Any]],
                       progress: Callable[[str], None] | None = None
                       ) -> tuple[dict[int, dict[str, Any]], bool]:
    """The records of the layers at ``indices``, by position, checked in ``workers``
    processes; and whether the run was interrupted (the records then are those finished)."""
    records: dict[int, dict[str, Any]] = {}
    pool = ProcessPoolExecutor(max_workers=min(workers, len(indices)), mp_context=_context(),
                               initializer=_start, initargs=respec)
    pending: dict[Future[Any], int] = {pool.submit(_check, i, config): i for i in indices}
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                try:
                    records[index] = future.result()[1]
                except BrokenProcessPool:  # its process died: checked again below
                    continue
                if progress:
                    progress(f"{records[index]['name']}: {records[index]['verdict']} "
                             f"({plural(records[index]['cases'], 'case')})")
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        return records, True
    pool.shutdown(wait=True)
    for index in indices:  # what a process that died left unchecked
        if index not in records:
            try:
                records[index] = check_layer_spec(found.layers[index], config, progress)
            except KeyboardInterrupt:
                return records, True
    return records, False
