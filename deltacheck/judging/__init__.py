"""Judging one case: the implementation and the oracles on it, compared entry by entry against
the tolerance and the rounding floor."""
