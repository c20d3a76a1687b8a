"""``python -m deltacheck``: the same as the ``deltacheck`` command."""

import sys

from deltacheck.commands.cli import console_main

sys.exit(console_main())
