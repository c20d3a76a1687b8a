"""``python -m deltacheck``: the same as the ``deltacheck`` command."""

import sys

from deltacheck.commands import console_main

sys.exit(console_main())
