"""Save a failing case and write the command that re-runs exactly that case."""

from __future__ import annotations

import hashlib
import shlex
from pathlib import Path
from typing import Any

from deltacheck.case import Case


def save_case(case: Case, folder: str | Path) -> Path:
    """Write the case's JSON under ``folder``, named by its content."""
    text = case.dumps()
    path = Path(folder) / f"case-{hashlib.sha1(text.encode()).hexdigest()[:12]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    return path


def reproduce_command(config: Any, case: Case) -> str:
    """``deltacheck run --impl ... --replay case.json`` for this case and these oracles."""
    path = save_case(case, config.failures_dir)
    words = ["deltacheck", "run", "--impl", config.impl_spec, "--replay", str(path),
             "--oracles", ",".join(config.oracles)]
    for spec in config.user_activations:
        words += ["--activation", spec]
    return shlex.join(words)
