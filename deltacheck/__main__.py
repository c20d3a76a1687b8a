"""``python -m deltacheck``: the same as the ``deltacheck`` command."""

import sys

from deltacheck.cli import main

sys.exit(main())
