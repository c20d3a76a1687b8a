"""Write a document's outputs (JSON, HTML, JUnit XML), each atomically: a temporary file, then a rename.

Every command (``run``, ``merge``, ``audit``, ``demo``) and the pytest plugin write through
``write_outputs``. The HTML renderer is chosen by the document's ``schema``: ``deltacheck-X/1``
is rendered by ``deltacheck.reports.X`` (``results`` by ``deltacheck.reports.html``), which
has ``render(doc) -> str``.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPORT_HINT = "pip install 'deltacheck[report]'"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        # mkstemp makes the file private (0600); an output gets the mode open() would give it
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def json_text(doc: Mapping[str, Any]) -> str:
    """The document as compact, strict JSON (no NaN literals: they are stored as strings)."""
    return json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n"


def html_renderer(doc: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], str]:
    """The ``render`` function for the document's schema; ImportError without jinja2."""
    schema = str(doc.get("schema", ""))
    kind = schema.removeprefix("deltacheck-").split("/")[0] or "results"
    module = importlib.import_module("deltacheck.reports." + ("html" if kind == "results" else kind))
    return module.render


def write_outputs(doc: Mapping[str, Any], *, json_path: str | Path | None = None,
                  report_path: str | Path | None = None,
                  junit_path: str | Path | None = None) -> list[str]:
    """Write whichever outputs have a path; return one console line per output."""
    lines = []
    if json_path is not None:
        lines.append(f"json:   {write_text(json_path, json_text(doc))}")
    if junit_path is not None:
        from deltacheck.results import junit

        lines.append(f"junit:  {write_text(junit_path, junit.render(doc))}")
    if report_path is not None:
        try:
            render = html_renderer(doc)
        except ImportError as exc:
            # the report's own import error already carries the install hint: say it once
            lines.append(f"report: not written ({exc})" if REPORT_HINT in str(exc)
                         else f"report: not written ({exc}); {REPORT_HINT}")
        else:
            lines.append(f"report: {write_text(report_path, render(doc))}")
    return lines
