"""Held-back seeded bugs: slips in classes the diagnosis was not built on.

They were written before any tuning of the diagnosis, each with the kind and first wrong
quantity its author expects, measured before and after the tuning, and then joined the seeded
bugs (``deltacheck.campaign.bugs_history`` and ``bugs_small``). Measured apart with:

    python benchmarks/diagnosis_table.py --bugs benchmarks/heldout_bugs.py:BUGS

Classes: state kept between calls, returned arrays that alias a buffer the next call
overwrites, slips in the forward pass, small-but-real errors (a float32 constant in a
float64 path, an ε in a denominator, clipping at 1e-12), output-error slips that need K ≥ 3
to tell apart from a factor, per-sample slips that need N ≥ 2, declared conventions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deltacheck.campaign import bugs_history, bugs_small
from deltacheck.campaign.bug_steps import SeededBug

BUGS: tuple[SeededBug, ...] = (*bugs_history.BUGS, *bugs_small.BUGS)


def __getattr__(name: str) -> Callable[..., Any]:
    """Each bug's implementation by name, so a fresh process can import it:
    ``--impl benchmarks/heldout_bugs.py:cache_by_shape``."""
    for bug in BUGS:
        if bug.name == name:
            return bug.backprop
    raise AttributeError(f"module 'heldout_bugs' has no seeded bug {name!r}")
