"""The reports' one jinja2 environment: templates and stylesheets from ``templates/``, every
string autoescaped (names, messages and tracebacks come from users), and StrictUndefined, so
that a missing key is an error in the tests, never a blank in a report. The filters are the
number formats the templates share."""

from __future__ import annotations

import math
import pathlib
import re
from typing import Any

try:
    import jinja2
except ModuleNotFoundError as e:  # the report is an optional extra of the package
    raise ModuleNotFoundError("the HTML report needs jinja2: pip install 'deltacheck[report]'"
                              ) from e

from markupsafe import Markup, escape

from deltacheck.reports.common import fmt_err, fmt_val, num, plain

TEMPLATES = pathlib.Path(__file__).with_name("templates")


def num_text(v: Any) -> str:
    e = num(v)
    return f"{e:.10g}" if math.isfinite(e) else str(e)


def ulp(v: Any) -> str:
    """A deviation in ulp, short."""
    x = num(v)
    if not math.isfinite(x):
        return str(v)
    return f"{x:.0f}" if x < 1e6 else f"{x:.1e}"


def sci(v: Any, digits: int = 2) -> str:
    """A number in scientific notation (or as given, if not a number)."""
    x = num(v)
    return f"{x:.{digits}e}" if math.isfinite(x) else str(v)


def factor(v: Any) -> str:
    """A factor as a person reads it: 4.61, 7,036, or 10³⁴ when it is astronomical."""
    x = num(v)
    if not math.isfinite(x):
        return str(v)
    if x < 100:
        return f"{x:.3g}"
    if x < 1e5:
        return f"{x:,.0f}"
    power = str(math.floor(math.log10(x))).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"10{power}"


def seconds(v: Any) -> str:
    """A duration, in the unit that suits it."""
    x = num(v)
    if not math.isfinite(x):
        return str(v)
    if x < 1e-3:
        return f"{x * 1e6:.0f} µs"
    if x < 1:
        return f"{x * 1e3:.2f} ms"
    if x < 120:
        return f"{x:.1f} s"
    return f"{x / 60:.0f} min"


def vec(v: Any, digits: int = 6) -> str:
    """A number, a vector or a matrix, rounded for reading."""
    if isinstance(v, list):
        if v and isinstance(v[0], list):
            return "[" + "; ".join(vec(r, digits) for r in v) + "]"
        return "[" + ", ".join(vec(x, digits) for x in v) + "]"
    x = num(v)
    return f"{x:.{digits}f}" if math.isfinite(x) else str(v)


def sub(text: Any) -> Markup:
    """A plain-text formula with its subscripts set: "y_k" becomes y<sub>k</sub>."""
    return Markup(re.sub(r"_([A-Za-z0-9]+)", r"<sub>\1</sub>", str(escape(text))))


def stylesheet(*names: str) -> Markup:
    """The named stylesheets, one after another: ours, so they go into <style> as they are."""
    return Markup("".join(TEMPLATES.joinpath(name).read_text(encoding="utf-8") for name in names))


ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.filters.update(err=fmt_err, val=fmt_val, plain=plain, num=num_text, ulp=ulp, sci=sci,
                   factor=factor,
                   seconds=seconds, vec=vec, sub=sub)


def render(template: str, **context: Any) -> str:
    """A template of ``templates/`` rendered with ``context``."""
    return ENV.get_template(template).render(**context)
