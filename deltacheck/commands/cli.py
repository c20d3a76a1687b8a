"""The command line: one module per command, each with ``add_parser`` and ``run``, sharing
option groups and checks through ``commands.options``. Exit 0 agree, 1 disagree, 2 bad usage,
130 interrupted."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence

from deltacheck.commands import audit, demo, layer, merge, model, options, run, selftest
from deltacheck.core import interrupts
from deltacheck.core.errors import DeltacheckError

COMMANDS = {"run": run, "layer": layer, "model": model, "merge": merge, "audit": audit, "demo": demo,
            "selftest": selftest}
DEFAULT_IMPL = run.DEFAULT_IMPL


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``deltacheck`` command."""
    top = options.Parser(prog="deltacheck", description="Verify hand-written backpropagation.")
    top.add_argument("--version", action="version", version=f"deltacheck {options.version()}")
    sub = top.add_subparsers(dest="command", required=True, parser_class=options.Parser)
    for command in COMMANDS.values():
        command.add_parser(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deltacheck`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # a bare `deltacheck`: what it can do, not only an error
        parser().print_help(sys.stderr)
        return 2
    try:
        args = parser().parse_args(argv)
        return COMMANDS[args.command].run(args)
    except DeltacheckError as exc:
        print(f"deltacheck: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C outside a campaign (loading, writing): no traceback
        interrupts.acknowledge()
        print("deltacheck: interrupted before any result was written", file=sys.stderr)
        return interrupts.EXIT_CODE
    return 2


def console_main() -> int:
    """The ``deltacheck`` command: ``main``, then a quick exit.

    Everything is written and closed by then. A fork server of ``--workers`` still starting
    up is ended rather than left to finish. Freezing the heap spares the interpreter's last
    garbage collections over torch's and jax's objects (about 0.3 s of every run); atexit hooks
    still run and objects are still released as their references go.
    """
    from deltacheck.campaign import parallel

    code = main()
    with interrupts.deferred():
        parallel.stop_server()
        gc.freeze()
    if interrupts.waiting():  # Ctrl-C while the outputs were written: they are complete
        interrupts.acknowledge()
        print("deltacheck: interrupted after the run had finished; its outputs are complete",
              file=sys.stderr)
    return interrupts.EXIT_CODE if interrupts.requested() else code


if __name__ == "__main__":
    sys.exit(console_main())
