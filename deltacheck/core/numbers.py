"""Numbers as people and JSON read them."""

from __future__ import annotations

from typing import Any

import numpy as np


def json_number(v: float | None) -> float | str | None:
    """A float for JSON: non-finite values become the strings "inf", "-inf", "nan"."""
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else str(v)


def json_clean(value: Any) -> Any:
    """A JSON-ready structure with every non-finite float as one of those strings."""
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, dict):
        return {k: json_clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_clean(v) for v in value]
    return value


def distinct(x: float, y: float, *, least: int = 4) -> tuple[str, str]:
    """x and y with as many significant digits as it takes to tell them apart (at least ``least``)."""
    for digits in range(least, 18):
        a, b = f"{x:.{digits}g}", f"{y:.{digits}g}"
        if a != b:
            return a, b
    return repr(float(x)), repr(float(y))
