"""Line charts over a for the audit report: h, dh beside autograd, and the error on a log scale.

Values may be floats or the strings "inf", "-inf" and "nan" of the JSON. A non-finite value
breaks its line and is drawn as a red mark on the chart's top edge, so it can never hide.
Every piece of text goes through ``escape``: activation names come from users.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from deltacheck.reports import charts


@dataclass(frozen=True)
class Line:
    """One series: y over the chart's x, in one colour."""

    label: str
    colour: str
    ys: Sequence[object]
    dashed: bool = False
    width: float = 1.6


def chart(xs: Sequence[float], lines: Sequence[Line], *, title: str, log_y: bool = False,
          hlines: Sequence[tuple[float, str, str]] = (), kinks: Sequence[float] = (),
          floor: float = 1e-20) -> Markup:
    """A chart of ``lines`` over ``xs`` (``charts.chart``); ``hlines`` are (y, colour, label),
    e.g. tolerances; ``kinks`` are marked by dashed vertical lines."""
    x = [float(v) for v in xs]
    return charts.chart(
        [charts.Line(line.label, line.colour, list(zip(x, line.ys, strict=False)),
                     dash="5 3" if line.dashed else "", width=line.width) for line in lines],
        title=title, x_label="a", log_y=log_y, hlines=hlines,
        vlines=[(k, "", charts.MUTED) for k in kinks], legend_beside=True,
        floor=math.floor(math.log10(floor)) if log_y else None)
