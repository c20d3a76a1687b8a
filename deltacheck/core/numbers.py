"""Numbers as people and JSON read them."""

from __future__ import annotations

import numpy as np


def json_number(v: float | None) -> float | str | None:
    """A float for JSON: non-finite values become the strings "inf", "-inf", "nan"."""
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else str(v)
