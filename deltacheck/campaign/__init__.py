"""The campaign: Hypothesis draws cases in seeded slices, checked in one or many processes.

``plan`` cuts the budget into slices, ``slices`` checks one slice, ``parallel`` shares slices
out among processes, and ``runner`` puts the results document together.
"""

from deltacheck.campaign.planning import (
    PROFILES,
    Config,
    Interrupted,
    parse_shard,
    plan,
    planned,
)
from deltacheck.campaign.runner import Outcome, run

__all__ = ["PROFILES", "Config", "Interrupted", "Outcome",
           "parse_shard", "plan", "planned", "run"]
