"""The command line: one thin module per command, each parsing options and calling the library."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def console_main() -> int:
    """The ``deltacheck`` console script: Ctrl-C taken in hand before anything heavy imports."""
    from deltacheck.core import interrupts

    interrupts.install()
    try:
        from deltacheck.commands import cli

        interrupts.checkpoint()  # one that came while importing
    except KeyboardInterrupt:  # while importing: nothing started, nothing to keep
        interrupts.acknowledge()
        print("deltacheck: interrupted while starting; nothing was checked", file=sys.stderr)
        return interrupts.EXIT_CODE
    return cli.console_main()


def main(argv: Sequence[str] | None = None) -> int:
    """``deltacheck ARGS`` from Python: the exit code."""
    from deltacheck.commands import cli

    return cli.main(argv)


__all__ = ["console_main", "main"]
