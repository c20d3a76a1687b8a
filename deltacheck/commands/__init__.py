"""The command line: one thin module per command, each parsing options and calling the library."""

from deltacheck.commands.cli import console_main, main

__all__ = ["console_main", "main"]
