"""The command line (``deltacheck.commands``), under the name older installs call."""

from deltacheck.commands import console_main, main

__all__ = ["console_main", "main"]
