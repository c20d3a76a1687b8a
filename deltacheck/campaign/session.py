"""What a command starts ahead of its campaign, owned in one place and ended with it.

Two things overlap a run's start-up: worker processes for ``--workers`` (they import torch and
jax and warm up while this process does) and the jax oracle's first compilation on a thread.
Both outlive the function that starts them, and both must be ended whatever happens: workers
no campaign took would wait for work, and a process that exits while JAX writes its
persistent cache leaves a broken entry. A ``Session`` holds them; leaving it ends them.

    with Session() as session:
        session.start_workers(2, ["torch", "jax", "fd"])
        session.start_compiling(["torch", "jax", "fd"])
        campaign.run(config, session=session)
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

import deltacheck.oracles as oracles
from deltacheck.campaign import parallel


class Session:
    """The worker processes and the compilation started for one run (see the module)."""

    def __init__(self) -> None:
        self._workers: parallel.Prestarted | None = None
        self._compiling: Any = None

    def start_workers(self, workers: int, oracle_names: Sequence[str]) -> None:
        """Start ``workers - 1`` processes now, for the campaign to take (none for 1)."""
        parallel.release(self._workers)
        self._workers = parallel.prestart(workers, oracle_names)

    def start_compiling(self, oracle_names: Sequence[str]) -> None:
        """Start what the oracles would do on their first case (jax compiles on a thread)."""
        if self._compiling is None:
            self._compiling = oracles.prepare(oracle_names)

    @property
    def compiling(self) -> Any:
        """The compilation started (with ``wait()`` and ``running()``), or None."""
        return self._compiling

    def take_workers(self) -> parallel.Prestarted | None:
        """The processes started early, handed over to a campaign (once)."""
        workers, self._workers = self._workers, None
        return workers

    def close(self) -> None:
        """End the workers no campaign took and wait for the compilation, if still running."""
        workers, self._workers = self._workers, None
        parallel.release(workers)
        compiling, self._compiling = self._compiling, None
        if compiling is not None:
            compiling.wait()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
