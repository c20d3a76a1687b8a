"""The command that re-runs exactly one failing case, and saving those cases after a run.

The campaign only names the file a case will be saved in (by its content); the caller saves
the failing cases of the results document once the run is over, beside its JSON.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deltacheck.core.case import Case
from deltacheck.core.conventions import OUTPUTS
from deltacheck.results.output import write_text


def case_text(case: Case | Mapping[str, Any], before: Sequence[Mapping[str, Any]] = ()) -> str:
    """The compact JSON text a case is saved as (from a Case or its JSON form); ``before``,
    the cases the implementation is called on first (a stateful failure's), go in with it."""
    if isinstance(case, Case):
        if not before:
            return case.dumps()
        case = case.to_json()
    if before:
        case = {**case, "before": list(before)}
    return json.dumps(case, separators=(",", ":"))


def case_path(folder: str | Path, case: Case | Mapping[str, Any],
              before: Sequence[Mapping[str, Any]] = ()) -> Path:
    """Where the case is saved under ``folder``: named by its content, so a rerun reuses it."""
    digest = hashlib.sha1(case_text(case, before).encode()).hexdigest()[:12]
    return Path(folder) / f"case-{digest}.json"


def cases_dir(json_path: str | Path) -> Path:
    """The folder of a run's saved failing cases: beside its JSON, named after it."""
    json_path = Path(json_path)
    return json_path.with_name(json_path.stem + "-cases")


def reproduce_command(config: Any, case: Case,
                      before: Sequence[Mapping[str, Any]] = ()) -> str:
    """``deltacheck run --impl ... --replay case.json`` for this case and these oracles."""
    path = getattr(config, "replay_path", None) if case is getattr(config, "replay", None) else None
    words = ["deltacheck", "run", "--impl", config.impl_spec, "--replay",
             str(path or case_path(config.failures_dir, case, before)), "--oracles",
             ",".join(config.oracles)]
    for spec in config.user_activations:
        words += ["--activation", spec]
    words += list(getattr(config, "convention_options", ()))
    checks = getattr(config, "checks", None)
    if checks is not None and len(checks) < len(OUTPUTS):  # what was kept out stays out
        words += ["--checks", ",".join(q for q in OUTPUTS if q in checks)]
    return shlex.join(words)


def save_cases(doc: Mapping[str, Any], folder: str | Path, *,
               replace: bool = True) -> list[Path]:
    """Save the case of every failure whose reproduce command replays a file in ``folder``.

    With ``replace``, cases a previous run left there are removed first, so the folder holds
    this run's only.
    """
    folder = Path(folder)
    if replace and folder.is_dir():
        for old in folder.glob("case-*.json"):
            old.unlink()
    saved = []
    for failure in doc.get("failures") or []:
        before = (failure.get("diagnosis") or {}).get("before") or ()
        path = case_path(folder, failure["case"], before)
        if str(path) in failure.get("repro", "") and path not in saved:
            write_text(path, case_text(failure["case"], before) + "\n")
            saved.append(path)
    return saved
